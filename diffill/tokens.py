"""Names of the special tokens shared by the tokenizer trainer and the engine."""

PAD = "<|pad|>"
UNK = "<|unk|>"
CLS = "<|cls|>"
SEP = "<|sep|>"
MASK = "<|mask|>"
EOM = "<|eom|>"  # end-of-middle: pads a hole's length budget; dropped from the output

SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, CLS, SEP, MASK, EOM)
