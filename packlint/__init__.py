"""packlint: a linter with autofix for PyTorch variable-length sequence code."""

__version__ = "0.1.0"

# Where each rule's page lives (generated from the rule's docstring into docs/rules/).
DOCS_URL = "https://github.com/packlint/packlint/blob/main/docs/rules/{code}.md"
