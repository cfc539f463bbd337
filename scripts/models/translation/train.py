#!/usr/bin/python3
"""Trains the English -> Spanish Transformer translator and exports it for the TensorFlow.js runtime.

System dependencies (Debian): apt-get install -y python3-torch libopenblas0-pthread
(Debian's torch falls back to the reference BLAS without an optimised libblas.so.3 and is ~25x slower.)
Use the system interpreter (/usr/bin/python3), not a pyenv python on PATH.

Usage:
  /usr/bin/python3 scripts/models/translation/train.py \
      [--corpus tmp/translation-corpus] [--model-dir models/en-es-translator/1] [--minutes 50]

Resumable training (en-es-translator@2, see scripts/models/translation/README.md):
  train.sh --corpus tmp/translation-corpus-v2 --model-dir tmp/en-es-v2 --schedule inverse-sqrt \
      --checkpoint tmp/en-es-v2/last.pt --compact-checkpoint scripts/models/translation/checkpoints/en-es-v2.pt \
      [--resume scripts/models/translation/checkpoints/en-es-v2.pt] --minutes 600 ...
  --checkpoint is written every --checkpoint-minutes and on SIGTERM/SIGINT/the end of the budget (float32
  weights and Adam moments, exact resume); --compact-checkpoint, when given, is written at the same time in a
  small form for git (float16 weights, bfloat16 Adam moments: resuming from it is approximate to ~1e-3
  relative). A checkpoint holds the model, the optimizer, the step, the epoch and the batch position inside
  it, the Python/torch RNG states and the arguments; --resume restores all of them (architecture arguments
  come from the checkpoint, the others from the command line). The data order of each epoch is a function of
  (seed, epoch), so a resumed run sees exactly the batches the uninterrupted run would have seen.

Inputs: <corpus>/{train,dev}.ids.txt written by learn-bpe.ts, <model-dir>/vocab.json.
Outputs in <model-dir>: model.json (TensorFlow.js weights manifest + architecture), weights.bin
(float16 little-endian, decoded by tf.io.decodeWeights), and training.json (training log summary).

Architecture (mirrored exactly by src/core/models/translation/transformer.ts): pre-LayerNorm Transformer
encoder-decoder, sinusoidal positions, token embeddings scaled by sqrt(d_model) and shared by encoder input,
decoder input and output projection (joint BPE vocabulary), ReLU feed-forward, final LayerNorm per stack.
With --embedding-dim E < d_model the shared embedding is factorised (ALBERT-style): `embedding` is
[vocab, E], the encoder/decoder inputs are `embedding @ embedding_in` ([E, d]) and the output logits are
`(h @ embedding_out) @ embedding^T` ([d, E]): the output projection then costs vocab*E per generated token.
"""
import argparse
import json
import math
import os
import random
import signal
import time
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS = 0, 1, 2


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument('--corpus', default='tmp/translation-corpus')
    p.add_argument('--model-dir', default='models/en-es-translator/1')
    p.add_argument('--minutes', type=float, default=55.0, help='wall-clock training budget (minutes)')
    p.add_argument('--max-steps', type=int, default=0, help='stop after this many updates (0: time budget only)')
    p.add_argument('--d-model', type=int, default=256)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--ff', type=int, default=768)
    p.add_argument('--enc-layers', type=int, default=3)
    p.add_argument('--dec-layers', type=int, default=2)
    p.add_argument('--dropout', type=float, default=0.05)
    p.add_argument('--label-smoothing', type=float, default=0.1)
    p.add_argument('--batch-tokens', type=int, default=6000, help='source+target tokens per update')
    p.add_argument('--lr', type=float, default=1.5e-3)
    p.add_argument('--warmup', type=int, default=300)
    p.add_argument('--max-len', type=int, default=96, help='drop training pairs longer than this (tokens)')
    p.add_argument('--eval-every', type=int, default=400)
    p.add_argument('--threads', type=int, default=1, help='intra-op threads; 1 is fastest on a shared 2-core box')
    p.add_argument('--seed', type=int, default=1234)
    p.add_argument('--init-from', default='', help='warm start from an exported model directory (model.json + weights.bin)')
    p.add_argument('--embedding-dim', type=int, default=0, help='factorised shared embedding size (0: d_model, no factorisation)')
    p.add_argument('--schedule', choices=['cosine-budget', 'inverse-sqrt'], default='cosine-budget',
                   help='cosine-budget: v1 (warmup, cosine over --minutes/--max-steps); inverse-sqrt: open-ended, for resumable runs')
    p.add_argument('--anneal', type=int, nargs=2, metavar=('START', 'END'), default=None,
                   help='inverse-sqrt only: multiply the lr by a linear ramp from 1 at step START to 0 at END, and stop at END')
    p.add_argument('--resume', default='', help='checkpoint to continue from (model, optimizer, step, data position, RNG)')
    p.add_argument('--checkpoint', default='', help='write a full checkpoint here periodically and on exit')
    p.add_argument('--compact-checkpoint', default='', help='also write a small (fp16/bf16) checkpoint here, for git')
    p.add_argument('--checkpoint-minutes', type=float, default=20.0)
    p.add_argument('--bleu-sentences', type=int, default=200, help='dev sentences decoded for the quick dev BLEU (0: none)')
    p.add_argument('--log', default='', help='append progress lines (dev loss, dev BLEU) to this file as JSON lines')
    p.add_argument('--no-export', action='store_true', help='do not export model.json/weights.bin at the end')
    p.add_argument('--export-only', action='store_true', help='with --resume: export the checkpoint to --model-dir and exit')
    p.add_argument('--reset-data-position', action='store_true',
                   help='with --resume: start at epoch 1, batch 0 of the (changed) corpus, keeping model, optimizer and step')
    return p.parse_args()


def read_ids(path, max_len):
    pairs = []
    with open(path, encoding='utf8') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            s, t = line.split('\t')
            src = [int(x) for x in s.split()] + [EOS]
            tgt = [int(x) for x in t.split()]
            if len(src) > max_len or len(tgt) + 1 > max_len or len(src) < 2 or len(tgt) < 1:
                continue
            pairs.append((src, tgt))
    return pairs


def epoch_batches(pairs, batch_tokens, seed, epoch):
    """The batch order of one epoch: a pure function of (seed, epoch), so a resumed run continues it exactly."""
    return make_batches(pairs, batch_tokens, random.Random(seed * 100003 + epoch))


def make_batches(pairs, batch_tokens, rng):
    """Length-bucketed batches: sort by (src, tgt) length, cut at a token budget, shuffle the batches."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1]), rng.random()))
    batches, cur, max_s, max_t = [], [], 0, 0
    for i in order:
        s, t = pairs[i]
        ms, mt = max(max_s, len(s)), max(max_t, len(t) + 1)
        if cur and (len(cur) + 1) * (ms + mt) > batch_tokens:
            batches.append(cur)
            cur, ms, mt = [], len(s), len(t) + 1
        cur.append(i)
        max_s, max_t = ms, mt
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(pairs, idx):
    srcs = [pairs[i][0] for i in idx]
    tgts = [pairs[i][1] for i in idx]
    S = max(len(s) for s in srcs)
    T = max(len(t) for t in tgts) + 1
    src = torch.full((len(idx), S), PAD, dtype=torch.long)
    tin = torch.full((len(idx), T), PAD, dtype=torch.long)
    tout = torch.full((len(idx), T), PAD, dtype=torch.long)
    for b, (s, t) in enumerate(zip(srcs, tgts)):
        src[b, : len(s)] = torch.tensor(s)
        tin[b, : len(t) + 1] = torch.tensor([BOS] + t)
        tout[b, : len(t) + 1] = torch.tensor(t + [EOS])
    return src, tin, tout


def sinusoid(max_len, d):
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    i = np.arange(d // 2, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, 2.0 * i / d)
    pe = np.zeros((max_len, d), dtype=np.float32)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return torch.from_numpy(pe)


class Attention(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mem, bias):
        B, T, D = x.shape
        S = mem.shape[1]
        q = self.q(x).view(B, T, self.h, self.dh).transpose(1, 2)
        k = self.k(mem).view(B, S, self.h, self.dh).transpose(1, 2)
        v = self.v(mem).view(B, S, self.h, self.dh).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh) + bias
        att = self.drop(torch.softmax(att, dim=-1))
        out = torch.matmul(att, v).transpose(1, 2).reshape(B, T, D)
        return self.o(out)


class FeedForward(nn.Module):
    def __init__(self, d, ff, dropout):
        super().__init__()
        self.w1, self.w2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.w2(self.drop(F.relu(self.w1(x))))


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ff, dropout):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = Attention(d, heads, dropout)
        self.ffn = FeedForward(d, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, bias):
        h = self.ln1(x)
        x = x + self.drop(self.att(h, h, bias))
        return x + self.drop(self.ffn(self.ln2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, d, heads, ff, dropout):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_att = Attention(d, heads, dropout)
        self.cross_att = Attention(d, heads, dropout)
        self.ffn = FeedForward(d, ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mem, self_bias, mem_bias):
        h = self.ln1(x)
        x = x + self.drop(self.self_att(h, h, self_bias))
        x = x + self.drop(self.cross_att(self.ln2(x), mem, mem_bias))
        return x + self.drop(self.ffn(self.ln3(x)))


class Transformer(nn.Module):
    def __init__(self, vocab, d, heads, ff, enc_layers, dec_layers, dropout, emb_dim=0):
        super().__init__()
        self.d = d
        self.factorised = bool(emb_dim) and emb_dim != d
        e = emb_dim if self.factorised else d
        self.emb = nn.Embedding(vocab, e, padding_idx=PAD)
        nn.init.normal_(self.emb.weight, 0, d**-0.5 if not self.factorised else e**-0.5)
        if self.factorised:
            self.emb_in = nn.Linear(e, d, bias=False)
            self.emb_out = nn.Linear(d, e, bias=False)
            nn.init.normal_(self.emb_in.weight, 0, d**-0.5)
            nn.init.normal_(self.emb_out.weight, 0, d**-0.5)
        with torch.no_grad():
            self.emb.weight[PAD].zero_()
        self.register_buffer('pe', sinusoid(512, d), persistent=False)
        self.enc = nn.ModuleList(EncoderLayer(d, heads, ff, dropout) for _ in range(enc_layers))
        self.dec = nn.ModuleList(DecoderLayer(d, heads, ff, dropout) for _ in range(dec_layers))
        self.enc_ln, self.dec_ln = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def embed(self, ids):
        x = self.emb(ids)
        if self.factorised:
            x = self.emb_in(x)
        return self.drop(x * math.sqrt(self.d) + self.pe[: ids.shape[1]])

    def logits(self, h):
        if self.factorised:
            h = self.emb_out(h)
        return F.linear(h, self.emb.weight)

    def decode(self, mem, mem_bias, tin):
        T = tin.shape[1]
        causal = torch.triu(torch.full((T, T), -1e9), diagonal=1)[None, None]
        x = self.embed(tin)
        for layer in self.dec:
            x = layer(x, mem, causal, mem_bias)
        return self.logits(self.dec_ln(x))

    def encode(self, src):
        bias = torch.zeros(src.shape, dtype=torch.float32).masked_fill(src == PAD, -1e9)[:, None, None, :]
        x = self.embed(src)
        for layer in self.enc:
            x = layer(x, bias)
        return self.enc_ln(x), bias

    def forward(self, src, tin):
        mem, mem_bias = self.encode(src)
        return self.decode(mem, mem_bias, tin)


def named_weights(model):
    """(export name, parameter) pairs in export order; dense kernels are transposed to [in, out] on export."""
    named = [('embedding', model.emb.weight)]
    if model.factorised:
        named.append(('embedding_in/kernel', model.emb_in.weight))
        named.append(('embedding_out/kernel', model.emb_out.weight))

    def add_linear(prefix, lin):
        named.append((prefix + '/kernel', lin.weight))
        named.append((prefix + '/bias', lin.bias))

    def add_ln(prefix, ln):
        named.append((prefix + '/gamma', ln.weight))
        named.append((prefix + '/beta', ln.bias))

    def add_att(prefix, att):
        for n in ('q', 'k', 'v', 'o'):
            add_linear(f'{prefix}/{n}', getattr(att, n))

    for i, layer in enumerate(model.enc):
        p = f'encoder/layer_{i}'
        add_ln(p + '/ln1', layer.ln1)
        add_att(p + '/self_attention', layer.att)
        add_ln(p + '/ln2', layer.ln2)
        add_linear(p + '/ffn/w1', layer.ffn.w1)
        add_linear(p + '/ffn/w2', layer.ffn.w2)
    add_ln('encoder/final_ln', model.enc_ln)
    for i, layer in enumerate(model.dec):
        p = f'decoder/layer_{i}'
        add_ln(p + '/ln1', layer.ln1)
        add_att(p + '/self_attention', layer.self_att)
        add_ln(p + '/ln2', layer.ln2)
        add_att(p + '/cross_attention', layer.cross_att)
        add_ln(p + '/ln3', layer.ln3)
        add_linear(p + '/ffn/w1', layer.ffn.w1)
        add_linear(p + '/ffn/w2', layer.ffn.w2)
    add_ln('decoder/final_ln', model.dec_ln)
    return named


def load_export(model, path_dir):
    """Warm start: copies the weights of an exported model (any tfjs quantisation) into `model`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location('quantize', os.path.join(os.path.dirname(__file__), 'quantize.py'))
    quantize = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quantize)
    _, tensors = quantize.read(path_dir)
    by_name = {name: arr for name, _, arr in tensors}
    with torch.no_grad():
        for name, param in named_weights(model):
            arr = torch.from_numpy(np.array(by_name[name], dtype=np.float32))
            if name.endswith('/kernel'):
                arr = arr.t()
            param.copy_(arr)


def export(model, args, vocab_size, path_dir, meta):
    """Writes model.json (TF.js weights manifest, float16 quantised) and weights.bin."""
    named = []
    for name, t in named_weights(model):
        arr = t.detach().float().cpu()
        if name.endswith('/kernel'):
            arr = arr.t()  # [in, out], so the runtime computes x @ kernel + bias
        named.append((name, arr.numpy()))

    specs, chunks = [], []
    for name, arr in named:
        data = np.ascontiguousarray(arr, dtype='<f2')
        specs.append({'name': name, 'shape': list(arr.shape), 'dtype': 'float32', 'quantization': {'dtype': 'float16'}})
        chunks.append(data.tobytes())
    with open(os.path.join(path_dir, 'weights.bin'), 'wb') as f:
        for c in chunks:
            f.write(c)
    manifest = {
        'format': 'docbatch-seq2seq/1',
        'architecture': {
            'type': 'transformer-pre-ln',
            'vocab_size': vocab_size,
            'd_model': args.d_model,
            'heads': args.heads,
            'ff': args.ff,
            'encoder_layers': args.enc_layers,
            'decoder_layers': args.dec_layers,
            'max_positions': 512,
            'layer_norm_epsilon': 1e-5,
            **({'embedding_dim': args.embedding_dim} if model.factorised else {}),
        },
        'training': meta,
        'weightsManifest': [{'paths': ['weights.bin'], 'weights': specs}],
    }
    with open(os.path.join(path_dir, 'model.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


ARCH_ARGS = ('d_model', 'heads', 'ff', 'enc_layers', 'dec_layers', 'embedding_dim')


def bleu(hyps, refs):
    """Corpus BLEU (4-gram, brevity penalty) on a simple 13a-like tokenisation: a quick dev indicator only;
    the reported figures come from bleu.ts through the serving path."""
    import re

    def tok(t):
        t = re.sub(r'([^\w\s\u00C0-\u024F\uE000-\uE0FF])', r' \1 ', t)
        return t.split()

    match, total = [0] * 4, [0] * 4
    hl = rl = 0
    for h, r in zip(hyps, refs):
        h, r = tok(h), tok(r)
        hl, rl = hl + len(h), rl + len(r)
        for n in range(1, 5):
            hc = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(0, len(h) - n + 1)
    if min(match) == 0:
        return 0.0
    logp = sum(math.log(m / t) for m, t in zip(match, total)) / 4
    bp = 1.0 if hl > rl else math.exp(1 - rl / max(hl, 1))
    return 100 * bp * math.exp(logp)


@torch.no_grad()
def greedy(model, srcs, max_extra=10):
    """Batched greedy decoding without caches (dev BLEU only)."""
    model.eval()
    S = max(len(s) for s in srcs)
    src = torch.full((len(srcs), S), PAD, dtype=torch.long)
    for b, s in enumerate(srcs):
        src[b, : len(s)] = torch.tensor(s)
    mem, mem_bias = model.encode(src)
    out = torch.full((len(srcs), 1), BOS, dtype=torch.long)
    done = torch.zeros(len(srcs), dtype=torch.bool)
    for _ in range(2 * S + max_extra):
        nxt = model.decode(mem, mem_bias, out)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
        out = torch.cat([out, nxt[:, None]], 1)
        done |= nxt == EOS
        if bool(done.all()):
            break
    model.train()
    res = []
    for row in out[:, 1:].tolist():
        ids = []
        for t in row:
            if t in (EOS, PAD):
                break
            ids.append(t)
        res.append(ids)
    return res


def detok(ids, tokens):
    return ''.join(tokens[i] for i in ids if i > 3).replace('\u2581', ' ').strip()


def lr_at(args, step, progress):
    if args.schedule == 'cosine-budget':
        return args.lr * min(1.0, (step + 1) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
    s = step + 1
    lr = args.lr * min(s / args.warmup, math.sqrt(args.warmup / s))
    if args.anneal:
        a, b = args.anneal
        lr *= min(1.0, max(0.0, (b - step) / max(1, b - a)))
    return lr


def save_checkpoint(path, model, opt, state, args, compact=False):
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if compact:
        weights = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
        osd = opt.state_dict()
        # state_dict() shares the per-parameter state dicts with the live optimizer: build new ones.
        osd = {
            'state': {i: {k: (v.to(torch.bfloat16) if k in ('exp_avg', 'exp_avg_sq') else v) for k, v in st.items()}
                      for i, st in osd['state'].items()},
            'param_groups': osd['param_groups'],
        }
    else:
        weights = model.state_dict()
        osd = opt.state_dict()
    ckpt = {
        'format': 'docbatch-translator-checkpoint/1',
        'compact': compact,
        'model': weights,
        'optimizer': osd,
        'state': state,
        'args': vars(args),
        'rng': {'python': state.get('py_rng'), 'torch': torch.get_rng_state()},
    }
    tmp = path + '.tmp'
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def main():
    args = parse_args()
    resume = None
    if args.resume:
        resume = torch.load(args.resume, map_location='cpu')
        saved = resume['args']
        for k in ARCH_ARGS + ('seed', 'batch_tokens', 'max_len', 'schedule'):
            if k in saved and getattr(args, k) != saved[k]:
                print(f'resume: {k} = {saved[k]} from the checkpoint (command line had {getattr(args, k)})', flush=True)
                setattr(args, k, saved[k])
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(os.path.join(args.model_dir, 'vocab.json'), encoding='utf8') as f:
        vocab_tokens = json.load(f)['tokens']
    vocab_size = len(vocab_tokens)
    if args.export_only:
        train, dev = [], []
    else:
        train = read_ids(os.path.join(args.corpus, 'train.ids.txt'), args.max_len)
        dev = read_ids(os.path.join(args.corpus, 'dev.ids.txt'), args.max_len)
    print(f'train pairs {len(train)}, dev pairs {len(dev)}, vocab {vocab_size}', flush=True)
    model = Transformer(vocab_size, args.d_model, args.heads, args.ff, args.enc_layers, args.dec_layers, args.dropout,
                        args.embedding_dim)
    if args.init_from:
        load_export(model, args.init_from)
        print(f'warm start from {args.init_from}', flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'parameters: {n_params}', flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    state = {'step': 0, 'epoch': 1, 'batch': 0, 'tokens': 0, 'train_seconds': 0.0, 'best_dev_loss': None,
             'py_rng': None}
    if resume is not None:
        model.load_state_dict({k: v.float() for k, v in resume['model'].items()})
        osd = resume['optimizer']
        for st in osd['state'].values():
            for k in ('exp_avg', 'exp_avg_sq'):
                if k in st:
                    st[k] = st[k].float()
        opt.load_state_dict(osd)
        state.update(resume['state'])
        torch.set_rng_state(resume['rng']['torch'])
        if args.reset_data_position:
            print(f"data position reset (was epoch {state['epoch']} batch {state['batch']}): the corpus changed", flush=True)
            state['data_resets'] = state.get('data_resets', []) + [{'step': state['step'], 'epoch': state['epoch'], 'batch': state['batch']}]
            state['epoch'], state['batch'] = 1, 0
        print(f"resumed from {args.resume} at step {state['step']}, epoch {state['epoch']} batch {state['batch']}"
              f"{' (compact checkpoint: fp16 weights, bf16 moments)' if resume.get('compact') else ''}", flush=True)
    if args.export_only:
        if resume is None:
            raise SystemExit('--export-only needs --resume')
        meta = {'steps': state['step'], 'epochs': state['epoch'], 'train_hours': round(state['train_seconds'] / 3600, 2),
                'best_dev_loss': state.get('best_dev_loss'), 'parameters': n_params,
                'checkpoint': args.resume, 'args': vars(args)}
        export(model, args, vocab_size, args.model_dir, meta)
        print(f"exported step {state['step']} to {args.model_dir}", flush=True)
        return
    rng = random.Random(args.seed)
    if state.get('py_rng') is not None:
        rng.setstate(tuple(v if not isinstance(v, list) else tuple(v) for v in state['py_rng']))
    budget = args.minutes * 60.0
    dev_batches = make_batches(dev, 8000, random.Random(0))
    bleu_idx = list(range(min(args.bleu_sentences, len(dev))))

    def dev_loss():
        model.eval()
        tot, n = 0.0, 0
        with torch.no_grad():
            for idx in dev_batches:
                src, tin, tout = collate(dev, idx)
                logits = model(src, tin)
                tot += F.cross_entropy(logits.reshape(-1, vocab_size), tout.reshape(-1), ignore_index=PAD, reduction='sum').item()
                n += (tout != PAD).sum().item()
        model.train()
        return tot / n

    def dev_bleu():
        if not bleu_idx:
            return None
        hyps = []
        for i in range(0, len(bleu_idx), 50):
            srcs = [dev[j][0] for j in bleu_idx[i:i + 50]]
            hyps += [detok(h, vocab_tokens) for h in greedy(model, srcs)]
        refs = [detok(dev[j][1], vocab_tokens) for j in bleu_idx]
        return bleu(hyps, refs), hyps[:3], refs[:3]

    def log(rec):
        print('== ' + json.dumps(rec, ensure_ascii=False), flush=True)
        if args.log:
            with open(args.log, 'a', encoding='utf8') as f:
                f.write(json.dumps(rec, ensure_ascii=False) + '\n')

    def evaluate(tag):
        dl = dev_loss()
        b = dev_bleu()
        rec = {'event': tag, 'step': state['step'], 'epoch': state['epoch'], 'batch': state['batch'],
               'train_hours': round(state['train_seconds'] / 3600, 3), 'dev_loss': round(dl, 4),
               'dev_ppl': round(math.exp(dl), 2), 'time': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
        if b is not None:
            rec['dev_bleu'] = round(b[0], 2)
            rec['sample'] = [{'hyp': h, 'ref': r} for h, r in zip(b[1][:2], b[2][:2])]
        log(rec)
        return dl

    def checkpoint(reason):
        state['py_rng'] = rng.getstate()
        save_checkpoint(args.checkpoint, model, opt, state, args)
        save_checkpoint(args.compact_checkpoint, model, opt, state, args, compact=True)
        if args.checkpoint or args.compact_checkpoint:
            print(f"checkpoint ({reason}) at step {state['step']}: {args.checkpoint} {args.compact_checkpoint}", flush=True)

    stop = {'requested': False}

    def request_stop(signum, _frame):
        print(f'signal {signum}: stopping after this update, saving a checkpoint', flush=True)
        stop['requested'] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    start = time.time()
    last_ckpt = time.time()
    start_step = state['step']
    best, best_state = float('inf'), None
    session_tokens = 0
    done = False
    while not done:
        batches = epoch_batches(train, args.batch_tokens, args.seed, state['epoch']) if args.schedule != 'cosine-budget' \
            else make_batches(train, args.batch_tokens, rng)
        while state['batch'] < len(batches):
            idx = batches[state['batch']]
            elapsed = time.time() - start
            progress = elapsed / budget
            if args.max_steps:
                progress = max(progress, (state['step'] - start_step) / args.max_steps)
            if args.anneal and state['step'] >= args.anneal[1]:
                progress = 1.0
            if progress >= 1.0 or stop['requested']:
                done = True
                break
            lr = lr_at(args, state['step'], progress)
            for g in opt.param_groups:
                g['lr'] = lr
            t_step = time.time()
            src, tin, tout = collate(train, idx)
            logits = model(src, tin)
            loss = F.cross_entropy(
                logits.reshape(-1, vocab_size), tout.reshape(-1), ignore_index=PAD, label_smoothing=args.label_smoothing
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state['step'] += 1
            state['batch'] += 1
            state['train_seconds'] += time.time() - t_step
            ntok = int((tout != PAD).sum())
            state['tokens'] += ntok
            session_tokens += ntok
            if state['step'] % 50 == 0:
                print(f"step {state['step']} epoch {state['epoch']} batch {state['batch']}/{len(batches)} loss {loss.item():.3f} "
                      f"lr {lr:.2e} tgt_tok/s {session_tokens / (time.time() - start):.0f} elapsed {elapsed / 60:.1f}m", flush=True)
            if state['step'] % args.eval_every == 0:
                dl = evaluate('eval')
                if args.schedule == 'cosine-budget' and dl < best:
                    best = dl
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if state['best_dev_loss'] is None or dl < state['best_dev_loss']:
                    state['best_dev_loss'] = round(dl, 4)
            if time.time() - last_ckpt >= args.checkpoint_minutes * 60:
                checkpoint('periodic')
                last_ckpt = time.time()
        else:
            state['epoch'] += 1
            state['batch'] = 0
    dl = evaluate('final')
    checkpoint('exit')
    if args.schedule == 'cosine-budget' and best_state is not None and best < dl:
        model.load_state_dict(best_state)
    else:
        best = dl
    minutes = (time.time() - start) / 60
    meta = {
        'steps': state['step'],
        'epochs': state['epoch'],
        'minutes': round(minutes, 1),
        'cpu_minutes': round(time.process_time() / 60, 1),
        'dev_loss': round(best, 4),
        'train_pairs': len(train),
        'parameters': n_params,
        'args': vars(args),
    }
    if not args.no_export:
        export(model, args, vocab_size, args.model_dir, meta)
        print(f'exported to {args.model_dir} after {minutes:.1f} min, dev loss {best:.4f}', flush=True)


if __name__ == '__main__':
    main()
