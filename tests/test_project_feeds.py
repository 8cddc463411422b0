"""Project mode's cross-file PKL203/PKL201: a loader padded in one file, fed to a model of another that reads
the final state; the messages name both places; the cache re-checks the model when the padding changes or a
new file starts feeding it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_project import NAMES, PROJECTS, invoke


def test_each_padding_source_and_trap_has_a_project() -> None:
    assert {
        "bad_collate_pads_fixed_length",
        "bad_dataset_tokenizer_last_step",
        "bad_torchtext_fix_length",
        "bad_pad_sequence_collate",
        "good_model_packs",
        "good_collate_returns_lengths",
        "good_batch_max_lengths_used",
        "good_left_padded",
        "good_other_model_padded",
        "good_single_file_padded",
        "good_loop_packs",
        "good_loop_helper_prepares",
        "good_state_only_returned",
        "bad_dataset_fills_fixed_vector",
        "bad_encoder_inside_model",
        "good_wrapper_packs",
    } <= set(NAMES)


def messages(directory: Path) -> list[dict[str, object]]:
    code, out = invoke("--no-cache", "--project", "--output-format", "json", str(directory))
    assert code in (0, 1), out
    return list(json.loads(out))


def test_message_names_the_call_and_the_padding() -> None:
    (found,) = messages(PROJECTS / "bad_collate_pads_fixed_length")
    assert found["code"] == "PKL203" and found["fix"] is None
    message = str(found["message"])
    assert "`train.py:16` passes as `tokens`" in message and "padded to `MAX_LEN` by `lib/data.py:11`" in message
    (found,) = messages(PROJECTS / "bad_pad_sequence_collate")
    assert "padded to the longest sequence of the batch by" in str(found["message"])


def check(project: Path, cache: Path) -> tuple[int, str]:
    return invoke("--project", "--cache-dir", str(cache), "--output-format", "concise", str(project))


def test_editing_the_padding_rechecks_the_model(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "bad_collate_pads_fixed_length", project)
    code, out = check(project, tmp_path / "cache")
    assert code == 1 and "lib/model.py:14:21: PKL203" in out, out
    data = project / "lib" / "data.py"
    data.write_text(data.read_text().replace("tokens + [0] * (MAX_LEN - len(tokens))", "tokens"))
    code, out = check(project, tmp_path / "cache")
    assert code == 0, out


def test_a_new_file_that_feeds_the_model_rechecks_it(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "bad_collate_pads_fixed_length", project)
    train = project / "train.py"
    text = train.read_text()
    train.unlink()
    code, out = check(project, tmp_path / "cache")
    assert code == 0, out
    (project / "scripts").mkdir()
    (project / "scripts" / "train.py").write_text(text)  # a new file in a new folder: only the listings tell
    code, out = check(project, tmp_path / "cache")
    assert code == 1 and "lib/model.py:14:21: PKL203" in out, out


def test_message_names_the_outer_models_call() -> None:
    (found,) = messages(PROJECTS / "bad_encoder_inside_model")
    message = str(found["message"])
    assert "`train.py:19` passes, through `classifier.py:16`, as `inputs`" in message, message
    assert "padded to the longest text of the batch by `train.py:7`" in message, message


def test_summaries_survive_pickling() -> None:
    # Summaries are stored by content (on disk, by the project cache): plain, frozen data that round-trips.
    import pickle

    from packlint.project import summarise

    summaries = [summarise(path.read_bytes()) for path in sorted(PROJECTS.rglob("*.py"))]
    assert any(f.right_pads for s in summaries for c in s.classes for f in c.methods)
    assert all(pickle.loads(pickle.dumps(s)) == s for s in summaries)
