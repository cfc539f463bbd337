#!/usr/bin/python3
"""Re-quantises an exported translator (model.json + weights.bin) in place or into another directory.

Usage:
  /usr/bin/python3 scripts/models/translation/quantize.py --model-dir models/en-es-translator/1 --dtype uint8 \
      [--out-dir DIR] [--keep-float16 PATTERN ...]

dtype uint8 uses TensorFlow.js affine quantisation per tensor (value = q * scale + min), float16 stores
IEEE half floats; both are decoded by tf.io.decodeWeights at load time. 1-D tensors (biases, LayerNorm
parameters) always stay float16: they are tiny and uint8 would only cost accuracy.
"""
import argparse
import json
import os
import re
import shutil

import numpy as np


def read(model_dir):
    with open(os.path.join(model_dir, 'model.json'), encoding='utf8') as f:
        manifest = json.load(f)
    tensors = []
    for group in manifest['weightsManifest']:
        data = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        offset = 0
        for spec in group['weights']:
            n = int(np.prod(spec['shape'])) if spec['shape'] else 1
            q = spec.get('quantization')
            if q is None:
                arr = np.frombuffer(data, '<f4', n, offset)
                offset += 4 * n
            elif q['dtype'] == 'float16':
                arr = np.frombuffer(data, '<f2', n, offset).astype(np.float32)
                offset += 2 * n
            elif q['dtype'] == 'uint8':
                arr = np.frombuffer(data, np.uint8, n, offset).astype(np.float32) * q['scale'] + q['min']
                offset += n
            else:
                raise ValueError(f"unsupported quantization {q['dtype']}")
            tensors.append((spec['name'], spec['shape'], arr.reshape(spec['shape'])))
    return manifest, tensors


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model-dir', required=True)
    p.add_argument('--out-dir')
    p.add_argument('--dtype', choices=['float16', 'uint8'], required=True)
    p.add_argument('--keep-float16', nargs='*', default=[], help='regexes of weight names kept in float16')
    args = p.parse_args()
    out_dir = args.out_dir or args.model_dir
    manifest, tensors = read(args.model_dir)
    specs, chunks = [], []
    for name, shape, arr in tensors:
        keep = arr.ndim < 2 or any(re.search(k, name) for k in args.keep_float16)
        if args.dtype == 'uint8' and not keep:
            lo, hi = float(arr.min()), float(arr.max())
            scale = (hi - lo) / 255.0 if hi > lo else 1.0
            q = np.clip(np.round((arr - lo) / scale), 0, 255).astype(np.uint8)
            specs.append({'name': name, 'shape': shape, 'dtype': 'float32', 'quantization': {'dtype': 'uint8', 'scale': scale, 'min': lo}})
            chunks.append(q.tobytes())
        else:
            specs.append({'name': name, 'shape': shape, 'dtype': 'float32', 'quantization': {'dtype': 'float16'}})
            chunks.append(np.ascontiguousarray(arr, dtype='<f2').tobytes())
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'weights.bin'), 'wb') as f:
        for c in chunks:
            f.write(c)
    manifest['weightsManifest'] = [{'paths': ['weights.bin'], 'weights': specs}]
    with open(os.path.join(out_dir, 'model.json'), 'w', encoding='utf8') as f:
        json.dump(manifest, f, indent=1)
    if out_dir != args.model_dir:
        for extra in ('vocab.json', 'config.json'):
            src = os.path.join(args.model_dir, extra)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(out_dir, extra))
    size = sum(len(c) for c in chunks)
    print(f'wrote {out_dir}/weights.bin: {size / 1e6:.2f} MB ({args.dtype})')


if __name__ == '__main__':
    main()
