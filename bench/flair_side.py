"""Flair's half of ``bench/flair_compare.py``: run by the Python of Flair's own virtual environment.

    FLAIR_PYTHON bench/flair_side.py train --data ../shared/data/atis --threads 1 --out flair.json
    FLAIR_PYTHON bench/flair_side.py predict --data ../shared/data/atis --threads 1 --out flair.json

Flair 0.15.1's BiLSTM-CRF (hidden 256, one layer) over one-hot word embeddings and character
embeddings (the character dictionary built from the training tokens: Flair's default one is a
download). ``train`` times one epoch (a plain loop over ``forward_loss``, batches of 32);
``predict`` times batched prediction of the test split (``predict``, batches of 256) with the
same network untrained: the work per sentence does not depend on the weights, and a reloaded
Flair model mixes up its stacked embeddings (FACTS). Each writes its figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path


def read_split(folder: Path) -> list[tuple[list[str], list[str]]]:
    words = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    tags = (folder / "seq.out").read_text(encoding="utf-8").splitlines()
    return [(w.split(), t.split()) for w, t in zip(words, tags, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["train", "predict"])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-sentences", type=int, default=0, help="0: the whole training split")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import flair
    from flair.data import Dictionary, Sentence
    from flair.embeddings import CharacterEmbeddings, OneHotEmbeddings, StackedEmbeddings
    from flair.models import SequenceTagger

    flair.device = torch.device("cpu")
    train = read_split(args.data / "train")
    if args.train_sentences:
        train = train[: args.train_sentences]
    test = read_split(args.data / "test")

    def spans(tags: list[str]) -> list[tuple[str, int, int]]:
        """BIO chunks ``(slot, start, end)``; an I- that continues nothing starts a chunk."""
        out, label, start = [], None, 0
        for i, t in enumerate([*tags, "O"]):
            if t.startswith("I-") and t[2:] == label:
                continue
            if label is not None:
                out.append((label, start, i))
            label, start = (t[2:], i) if t != "O" else (None, i)
        return out

    def sentences(rows, labelled: bool) -> list:
        out = []
        for words, tags in rows:
            s = Sentence(words)
            if labelled:  # Flair's BIO tagger learns from span labels and makes the B-/I- tags itself
                for slot, start, end in spans(tags):
                    s[start:end].add_label("slot", slot)
            out.append(s)
        return out

    train_sents = sentences(train, labelled=True)
    tags = Dictionary(add_unk=False)
    tags.span_labels = True  # what Corpus.make_label_dictionary sets for span labels
    for _, row_tags in train:
        for slot, _, _ in spans(row_tags):
            tags.add_item(slot)
    chars = Dictionary()
    for words, _ in train:
        for w in words:
            for c in w:
                chars.add_item(c)
    from flair.data import Corpus

    corpus = Corpus(train=train_sents, dev=[], test=[], sample_missing_splits=False)
    embeddings = StackedEmbeddings(
        [OneHotEmbeddings.from_corpus(corpus, field="text", min_freq=1), CharacterEmbeddings(path_to_char_dict=chars)]
    )
    tagger = SequenceTagger(
        hidden_size=256,
        embeddings=embeddings,
        tag_dictionary=tags,
        tag_type="slot",
        use_crf=True,
        rnn_layers=1,
        tag_format="BIO",
    )
    if args.mode == "train":
        optimizer = torch.optim.SGD(tagger.parameters(), lr=0.1)
        order = list(range(len(train_sents)))
        random.Random(0).shuffle(order)
        tagger.train()
        start = time.perf_counter()
        for b in range(0, len(order), 32):
            batch = [train_sents[i] for i in order[b : b + 32]]
            loss, count = tagger.forward_loss(batch)
            optimizer.zero_grad()
            (loss / max(1, count)).backward()
            torch.nn.utils.clip_grad_norm_(tagger.parameters(), 5.0)
            optimizer.step()
            for s in batch:
                s.clear_embeddings()
        took = time.perf_counter() - start
        figures = {"train_sentences": len(train_sents), "train_s": took, "train_sent_per_s": len(train_sents) / took}
    else:
        tagger.eval()
        tagger.predict(sentences(test[:64], labelled=False), mini_batch_size=64)  # warm-up
        test_sents = sentences(test, labelled=False)
        start = time.perf_counter()
        tagger.predict(test_sents, mini_batch_size=256)
        took = time.perf_counter() - start
        figures = {"test_sentences": len(test_sents), "predict_s": took, "predict_sent_per_s": len(test_sents) / took}
    args.out.write_text(json.dumps({"flair": flair.__version__, "torch": torch.__version__, **figures}))


if __name__ == "__main__":
    main()
