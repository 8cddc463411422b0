"""The text that a file must contain for a family of rules to have anything to say."""

# Every packing rule needs a `torch.nn.utils.rnn` function that the analysis resolved by name, so
# that name is in the text (aliases such as `R.pack_padded_sequence` keep it).
PACKING = ("pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence")
# RNN-output rules need an `nn.LSTM`/`nn.GRU`/`nn.RNN` built in the file.
RECURRENT = ("LSTM", "GRU", "RNN")
# Training-loop rules need a backward pass: a call, `loss.backward(` (a trigger may be a regular expression
# that starts with a word; the word alone also matches "backward pass" in every docstring of autograd).
TRAINING = (r"backward\s*\(",)
