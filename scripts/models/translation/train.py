#!/usr/bin/python3
"""Trains the English -> Spanish Transformer translator and exports it for the TensorFlow.js runtime.

System dependencies (Debian): apt-get install -y python3-torch libopenblas0-pthread
(Debian's torch falls back to the reference BLAS without an optimised libblas.so.3 and is ~25x slower.)
Use the system interpreter (/usr/bin/python3), not a pyenv python on PATH.

Usage:
  /usr/bin/python3 scripts/models/translation/train.py \
      [--corpus tmp/translation-corpus] [--model-dir models/en-es-translator/1] [--minutes 50]

Inputs: <corpus>/{train,dev}.ids.txt written by learn-bpe.ts, <model-dir>/vocab.json.
Outputs in <model-dir>: model.json (TensorFlow.js weights manifest + architecture), weights.bin
(float16 little-endian, decoded by tf.io.decodeWeights), and training.json (training log summary).

Architecture (mirrored exactly by src/core/models/translation/transformer.ts): pre-LayerNorm Transformer
encoder-decoder, sinusoidal positions, token embeddings scaled by sqrt(d_model) and shared by encoder input,
decoder input and output projection (joint BPE vocabulary), ReLU feed-forward, final LayerNorm per stack.
"""
import argparse
import json
import math
import os
import random
import signal
import struct
import time

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
    def __init__(self, vocab, d, heads, ff, enc_layers, dec_layers, dropout):
        super().__init__()
        self.d = d
        self.emb = nn.Embedding(vocab, d, padding_idx=PAD)
        nn.init.normal_(self.emb.weight, 0, d**-0.5)
        with torch.no_grad():
            self.emb.weight[PAD].zero_()
        self.register_buffer('pe', sinusoid(512, d), persistent=False)
        self.enc = nn.ModuleList(EncoderLayer(d, heads, ff, dropout) for _ in range(enc_layers))
        self.dec = nn.ModuleList(DecoderLayer(d, heads, ff, dropout) for _ in range(dec_layers))
        self.enc_ln, self.dec_ln = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def embed(self, ids):
        return self.drop(self.emb(ids) * math.sqrt(self.d) + self.pe[: ids.shape[1]])

    def encode(self, src):
        bias = torch.zeros(src.shape, dtype=torch.float32).masked_fill(src == PAD, -1e9)[:, None, None, :]
        x = self.embed(src)
        for layer in self.enc:
            x = layer(x, bias)
        return self.enc_ln(x), bias

    def forward(self, src, tin):
        mem, mem_bias = self.encode(src)
        T = tin.shape[1]
        causal = torch.triu(torch.full((T, T), -1e9), diagonal=1)[None, None]
        x = self.embed(tin)
        for layer in self.dec:
            x = layer(x, mem, causal, mem_bias)
        return F.linear(self.dec_ln(x), self.emb.weight)


def named_weights(model):
    """(export name, parameter) pairs in export order; dense kernels are transposed to [in, out] on export."""
    named = [('embedding', model.emb.weight)]

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
        },
        'training': meta,
        'weightsManifest': [{'paths': ['weights.bin'], 'weights': specs}],
    }
    with open(os.path.join(path_dir, 'model.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    with open(os.path.join(args.model_dir, 'vocab.json'), encoding='utf8') as f:
        vocab_size = len(json.load(f)['tokens'])
    train = read_ids(os.path.join(args.corpus, 'train.ids.txt'), args.max_len)
    dev = read_ids(os.path.join(args.corpus, 'dev.ids.txt'), args.max_len)
    print(f'train pairs {len(train)}, dev pairs {len(dev)}, vocab {vocab_size}', flush=True)
    model = Transformer(vocab_size, args.d_model, args.heads, args.ff, args.enc_layers, args.dec_layers, args.dropout)
    if args.init_from:
        load_export(model, args.init_from)
        print(f'warm start from {args.init_from}', flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'parameters: {n_params}', flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)
    budget = args.minutes * 60.0
    dev_batches = make_batches(dev, 8000, random.Random(0))

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

    stop = {'requested': False}

    def request_stop(signum, _frame):
        print(f'signal {signum}: stopping after this update and exporting', flush=True)
        stop['requested'] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    start = time.time()
    step, epoch, best, best_state = 0, 0, float('inf'), None
    tokens_seen = 0
    done = False
    while not done:
        epoch += 1
        for idx in make_batches(train, args.batch_tokens, rng):
            elapsed = time.time() - start
            progress = elapsed / budget
            if args.max_steps:
                progress = max(progress, step / args.max_steps)
            if progress >= 1.0 or stop['requested']:
                done = True
                break
            # linear warmup, then cosine decay over the (time or step) budget
            lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
            for g in opt.param_groups:
                g['lr'] = lr
            src, tin, tout = collate(train, idx)
            logits = model(src, tin)
            loss = F.cross_entropy(
                logits.reshape(-1, vocab_size), tout.reshape(-1), ignore_index=PAD, label_smoothing=args.label_smoothing
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tokens_seen += int((tout != PAD).sum())
            if step % 50 == 0:
                print(f'step {step} epoch {epoch} loss {loss.item():.3f} lr {lr:.2e} tgt_tok/s {tokens_seen / (time.time() - start):.0f} elapsed {elapsed / 60:.1f}m', flush=True)
            if step % args.eval_every == 0:
                dl = dev_loss()
                print(f'== step {step} dev loss {dl:.4f} (ppl {math.exp(dl):.2f})', flush=True)
                if dl < best:
                    best = dl
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    dl = dev_loss()
    print(f'== final step {step} dev loss {dl:.4f} (ppl {math.exp(dl):.2f})', flush=True)
    if dl < best or best_state is None:
        best = dl
    else:
        model.load_state_dict(best_state)
    minutes = (time.time() - start) / 60
    meta = {
        'steps': step,
        'epochs': epoch,
        'minutes': round(minutes, 1),
        'cpu_minutes': round(time.process_time() / 60, 1),
        'dev_loss': round(best, 4),
        'train_pairs': len(train),
        'parameters': n_params,
        'args': vars(args),
    }
    export(model, args, vocab_size, args.model_dir, meta)
    print(f'exported to {args.model_dir} after {minutes:.1f} min, best dev loss {best:.4f}', flush=True)


if __name__ == '__main__':
    main()
