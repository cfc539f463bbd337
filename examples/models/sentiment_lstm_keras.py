"""Walkthrough 1 of docs/models.md: the classic Keras sentiment model, saved with model.save().

Trains an Embedding -> LSTM -> LSTM -> Dense(1, sigmoid) model on a few sentences, with Keras's
Tokenizer and pad_sequences(maxlen=100, padding="post"), and writes into OUT (default
./sentiment/1): model.h5 and tokenizer.json exactly as Keras writes them. Then prints Keras's own
scores for three sentences, to compare with what docbatch returns.

    python sentiment_lstm_keras.py ~/docbatch-models/sentiment/1

Needs TensorFlow 2.x (tf.keras: Keras 2 or Keras 3).
"""
import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow.keras.preprocessing.sequence import pad_sequences
from tensorflow.keras.preprocessing.text import Tokenizer

out = sys.argv[1] if len(sys.argv) > 1 else "sentiment/1"
os.makedirs(out, exist_ok=True)
tf.keras.utils.set_random_seed(7)

positive = [
    "I loved this film, the acting was wonderful",
    "What a great and touching story",
    "A delightful, funny and warm movie",
    "The best thing I have seen this year",
    "Brilliant performances and a beautiful score",
    "I enjoyed every minute of it",
    "Superb writing, I would watch it again",
    "A lovely surprise, highly recommended",
]
negative = [
    "I hated this film, the acting was terrible",
    "What a boring and pointless story",
    "A dull, slow and painful movie",
    "The worst thing I have seen this year",
    "Awful performances and a grating score",
    "I regretted every minute of it",
    "Lazy writing, I would never watch it again",
    "A nasty disappointment, avoid it",
]
texts = positive + negative
labels = np.array([1] * len(positive) + [0] * len(negative))

tokenizer = Tokenizer(num_words=10000, oov_token="<OOV>")
tokenizer.fit_on_texts(texts)
x = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=100, padding="post")

model = tf.keras.Sequential(
    [
        tf.keras.Input(shape=(100,)),
        # mask_zero: the LSTMs skip the padding after each sentence (without it, 90 steps of
        # padding wash out what they read; docbatch serves either).
        tf.keras.layers.Embedding(10000, 128, mask_zero=True),
        tf.keras.layers.LSTM(64, return_sequences=True),
        tf.keras.layers.LSTM(32),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="binary_crossentropy")
model.fit(x, labels, epochs=20, verbose=0)

model.save(os.path.join(out, "model.h5"))
with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
    f.write(tokenizer.to_json())

samples = ["A wonderful, warm film", "A boring and awful film", "I have no idea"]
scores = model.predict(pad_sequences(tokenizer.texts_to_sequences(samples), maxlen=100, padding="post"), verbose=0)
for text, (p,) in zip(samples, scores):
    print(f"{p:.6f}  {text}")
print(f"wrote {out}/model.h5 and {out}/tokenizer.json")
