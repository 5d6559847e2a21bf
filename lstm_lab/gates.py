"""The gates' names: one table for the package, read by the weights' shapes, the messages and the figures."""

# Gate blocks stacked along dim 0 of the fused weights, in torch's order (the RNN has one block: h's)
GATES = {"RNN": "h", "LSTM": "ifgo", "GRU": "rzn"}
TORCH_ORDER = GATES["LSTM"]  # the LSTM's order in torch, which the layouts convert to and from

# How words name each gate, and the two states (figures and tables show them beside the gates)
GATE_WORDS = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o",
              "r": "reset gate r", "z": "update gate z", "n": "candidate n", "c": "cell state c", "h": "hidden state h"}
GATE_NAMES = {letter: words.split()[0] for letter, words in GATE_WORDS.items()}  # "input", "forget", "candidate", ...
