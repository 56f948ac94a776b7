"""Train the byte-level BPE tokenizer with the special tokens the engine needs.

Text is split after every newline before BPE, so line boundaries are always token boundaries: a prefix,
middle and suffix cut at line starts tokenize the same apart as together. Runs of spaces (indentation)
stay one pre-token, so BPE learns indentation tokens instead of single spaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from diffill import tokens

# Indentation runs, then words, numbers, punctuation runs and other whitespace, GPT-2 style.
_PIECES = r" ?\p{L}[\p{L}\p{N}_]*| ?\p{N}{1,3}| ?[^\s\p{L}\p{N}]+|[ \t]+(?=[^ \t\n])|[ \t]+|\n"


def build_tokenizer_model() -> Tokenizer:
    """An untrained byte-level BPE tokenizer with diffill's pre-tokenization."""
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\n"), behavior="merged_with_previous"),
            pre_tokenizers.Split(Regex(_PIECES), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 8192, max_length: int = 512, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train BPE on ``texts`` and wrap it as a Hugging Face fast tokenizer."""
    tok = build_tokenizer_model()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(tokens.SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=True,
    )
    tok.train_from_iterator(_batches(texts), trainer=trainer)
    return wrap(tok, max_length)


def wrap(tok: Tokenizer, max_length: int) -> PreTrainedTokenizerFast:
    """Wrap a raw tokenizer with the special-token roles the engine reads."""
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=max_length,
        pad_token=tokens.PAD,
        unk_token=tokens.UNK,
        cls_token=tokens.CLS,
        sep_token=tokens.SEP,
        mask_token=tokens.MASK,
        bos_token=tokens.CLS,
        eos_token=tokens.SEP,
        additional_special_tokens=[tokens.EOM],
        clean_up_tokenization_spaces=False,
    )


def _batches(texts: Iterable[str], size: int = 256) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: str | Path) -> Path:
    """Save as a Hugging Face tokenizer directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    return out
