"""Walkthrough 3 of docs/models.md: a model fed by a Hugging Face tokenizer.json.

Trains a WordPiece tokenizer with the `tokenizers` library (BERT-style: lowercase, [CLS] ... [SEP]),
then a Keras model (Embedding -> GlobalMaxPooling1D -> Dense(3, softmax)) on its ids, truncated to
48 ids and padded after them with [PAD], and writes into OUT (default ./reviews/1): model.keras and
tokenizer.json as the libraries write them. Then prints the model's own probabilities for three
sentences, to compare with docbatch.

    python review_huggingface_tokenizer.py ~/docbatch-models/reviews/1

Needs TensorFlow 2.16+ (Keras 3, for .keras files) and `pip install tokenizers`.
"""
import os
import sys

import numpy as np
import tensorflow as tf
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

out = sys.argv[1] if len(sys.argv) > 1 else "reviews/1"
os.makedirs(out, exist_ok=True)
tf.keras.utils.set_random_seed(7)

data = {
    0: ["The delivery was late and the box was damaged", "It broke after two days",
        "Customer service never answered my emails", "The refund took three weeks"],
    1: ["Works exactly as described", "Fast delivery and great quality",
        "I would buy it again", "Excellent value for the price"],
    2: ["Does it come with a charger?", "What size should I order?",
        "Is there a warranty?", "Can it be used outdoors?"],
}
labels_text = [t for ts in data.values() for t in ts]
labels = np.array([k for k, ts in data.items() for _ in ts])

tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
trainer = trainers.WordPieceTrainer(vocab_size=500, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
tokenizer.train_from_iterator(labels_text * 5, trainer)
tokenizer.post_processor = processors.TemplateProcessing(
    single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))]
)
tokenizer.save(os.path.join(out, "tokenizer.json"))

LENGTH = 48
pad_id = tokenizer.token_to_id("[PAD]")
tokenizer.enable_truncation(max_length=LENGTH)
tokenizer.enable_padding(length=LENGTH, pad_id=pad_id, pad_token="[PAD]")


def encode(texts):
    return np.array([e.ids for e in tokenizer.encode_batch(texts)], dtype="int32")


model = tf.keras.Sequential(
    [
        tf.keras.Input(shape=(LENGTH,), dtype="int32"),
        tf.keras.layers.Embedding(tokenizer.get_vocab_size(), 16),
        tf.keras.layers.GlobalMaxPooling1D(),
        tf.keras.layers.Dense(3, activation="softmax"),
    ]
)
model.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
model.fit(encode(labels_text), labels, epochs=40, verbose=0)
model.save(os.path.join(out, "model.keras"))

samples = ["The box arrived damaged", "Great quality, fast delivery", "Is it waterproof?"]
for text, row in zip(samples, model.predict(encode(samples), verbose=0)):
    print(" ".join(f"{v:.6f}" for v in row), " ", text)
print(f"wrote {out}/model.keras and {out}/tokenizer.json")
