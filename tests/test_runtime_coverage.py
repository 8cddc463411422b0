"""Every fixture of a rule with a runtime effect is executable, or listed here with its reason."""

from __future__ import annotations

from packlint.runtime.contract import EXECUTABLE_RULES, read_contract
from tests.fixture_marks import FIXTURES

# Fixtures of rules with a runtime effect that stay static-only, and why. Anything else in those
# directories without a header fails `test_executable_fixtures_have_headers`: nothing is skipped silently.
# PKL303's symptom is memory, not a value: the parameters after training equal the fixed loop's
# (verify gives MATCH for both); tests/test_loss_graph.py executes the graph that is kept instead.
GRAPH_HELD = "keeps the autograd graph, which changes no parameter: see tests/test_loss_graph.py"
STATIC_ONLY: dict[str, str] = {
    "PKL201/bad_activation_then_last_step.py": "returns tanh of the last step: no result kind for an activated output",
    "PKL201/good_module_list_per_step.py": "a decoder stepping from initial states, one step per call: no packed batch",
    "PKL301/good_fresh_model_per_config.py": "a parameter-grid test that builds its own modules and optimizers",
    "PKL301/good_fresh_model_trainable_dict.py": "a parameter-grid test that builds its own modules and optimizers",
    "PKL301/good_fresh_model_filtered_params.py": "a GRU and an Adam per configuration; the contract passes them in",
    "PKL301/bad_model_reused_when_cached.py": "builds its own Linear and SGD inside `fit`; the contract passes them in",
    "PKL301/bad_model_moved_not_rebuilt.py": "builds its own SGD inside the loop; the contract passes one in",
    "PKL301/bad_fresh_optimizer_shared_model.py": "builds its own LSTM, head and SGD; the contract passes them in",
    "PKL301/bad_fresh_optimizer_shared_model.fixed.py": "the fixed form of the entry above, static for the same reason",
    "PKL102/good_masked_store_keeps_order.py": "an encoder and a decoder GRU: the reference needs exactly one RNN",
    "PKL102/bad_numpy_sort_other_lengths.py": "takes source and target lengths; the contract has one kind of lengths",
    "PKL202/good_built_unidirectional_here.py": "loads saved weights; right for the one construction in the file only",
    "PKL202/bad_state_tuple_backward_only.py": "returns a hidden state and a cell state: no result kind for a pair",
    "PKL202/good_first_and_last_steps.py": "embeds token ids and concatenates two steps for a 4H head: no result kind",
    "PKL202/good_gather_middle_step.py": "returns the middle step and a step chosen by a flag: no result kind",
    "PKL202/good_gather_unknown_direction.py": "the direction is a constructor argument: right if unidirectional only",
    "PKL203/bad_state_after_shape_check.py": "builds its own GRU inside the function; the contract passes modules in",
    "PKL203/good_state_shape_only.py": "returns the final state's shape, which no result kind describes",
    "PKL104/good_forward_caller_sorts.py": "right only when the caller sorts each batch; the contract's is unsorted",
    "PKL104/good_lengths_of_embedded_rows.py": "two embeddings concatenated: the contract's tokens feed one",
    "PKL104/bad_lengths_of_split_pieces.py": "takes one flat tensor and its split sizes, no kind of the contract",
    "PKL104/bad_lengths_of_split_pieces.fixed.py": "the golden of a static-only bad file",
    "PKL108/bad_data_field.py": "returns the packed rows themselves, which no result kind of the contract describes",
    "PKL108/bad_data_field.fixed.py": "the fix of the static-only bad_data_field.py",
    "PKL201/good_step_decoder.py": "a greedy decoder stepping from an initial state: no packed batch to compare with",
    "PKL203/good_step_decoder.py": "a decoder fed one step at a time from an initial state: no packed batch",
    "PKL203/good_single_sequence.py": "takes one sequence, not a batch: there is no padding to get wrong",
    "PKL203/bad_training_loop.py": "builds its own GRU, head and Adam inside `train`; the contract passes them in",
    "PKL303/bad_running_loss.py": GRAPH_HELD,
    "PKL303/bad_running_loss.fixed.py": GRAPH_HELD,
    "PKL303/bad_history_list.py": GRAPH_HELD,
    "PKL303/bad_history_list.fixed.py": GRAPH_HELD,
    "PKL303/bad_trainer_attribute.py": GRAPH_HELD,
    "PKL303/bad_trainer_attribute.fixed.py": GRAPH_HELD,
    "PKL301/good_full_batch_step.py": "full-batch descent with a per-batch StepLR; the reference loop steps per batch",
    "PKL301/good_reset_in_method.py": "needs its own Regressor (with `begin_step`), not the contract's classifier",
    "PKL302/good_gan_other_model.py": "a GAN step: two models and two optimizers",
    "PKL103/bad_unsorted_after_transpose.py": "its fix is unsafe by design: the unsort runs on the time axis",
    "PKL103/bad_unsorted_after_transpose.fixed.py": "the golden of a static-only bad file",
    "PKL302/bad_two_optimizers.py": "two optimizers: the contract passes one",
    "PKL302/bad_two_optimizers.fixed.py": "the golden of a static-only bad file",
    "PKL302/bad_model_reset_two_steps.py": "builds its own two optimizers; the contract passes one",
    "PKL104/bad_rebuilt_packed_sequence.py": "its fix is unsafe by design: the rebuilt PackedSequence drops the sort",
    "PKL107/bad_packed_data_read.py": "its fix is unsafe by design: `.data` rows come back in sorted order",
    "PKL112/good_einops_rearrange.py": "needs einops, which packlint does not install",
    "PKL104/bad_rebuilt_packed_sequence.fixed.py": "the golden of a static-only bad file",
    "PKL107/bad_packed_data_read.fixed.py": "the golden of a static-only bad file",
    "PKL301/bad_step_before_backward.py": "fixed, it steps once less than the reference loop",
    "PKL301/bad_step_before_backward.fixed.py": "the golden of a static-only bad file",
    "PKL206/good_every_layer.py": "returns every layer's state, 4·H wide: no result kind",
    "PKL206/good_forward_of_every_layer.py": "an encoder and a decoder GRU: the reference needs one RNN",
    "PKL305/good_model_from_elsewhere.py": "takes its model as a parameter; `(trained, scores)` fixtures build theirs",
    "PKL305/good_monte_carlo_dropout.py": "keeps dropout on at test time on purpose: its scores are samples",
    "PKL305/bad_script_global_model.py": "a script with its own data and decoder: no contract for its scores",
    "PKL305/bad_script_global_model.fixed.py": "the golden of a static-only bad file",
    "PKL305/good_pseudo_labels_in_loop.py": "a semi-supervised step on unlabeled data the contract does not provide",
}


def _fixture_texts() -> list[tuple[str, str]]:
    files = sorted(FIXTURES.glob("*/*.py"))
    return [(str(p.relative_to(FIXTURES)), p.read_text(encoding="utf-8")) for p in files]


def test_executable_fixtures_have_headers() -> None:
    missing = [
        name
        for name, text in _fixture_texts()
        if name.split("/")[0] in EXECUTABLE_RULES and read_contract(text) is None and name not in STATIC_ONLY
    ]
    assert missing == [], (
        "fixtures of rules with a runtime effect need a `# verify:` header (docs/verify.md) "
        "or an entry with a reason in STATIC_ONLY"
    )


def test_static_only_entries_exist_and_lack_headers() -> None:
    for name in STATIC_ONLY:
        path = FIXTURES / name
        assert path.exists(), f"STATIC_ONLY lists {name}, which does not exist"
        assert read_contract(path.read_text(encoding="utf-8")) is None, f"{name} has a header now"
