"""Walkthrough 2 of docs/models.md: a TensorFlow SavedModel, converted to a TensorFlow.js graph model.

Trains a small Embedding -> GlobalAveragePooling1D -> Dense(3) model (logits, no softmax) on a few
sentences about three topics, with Keras's Tokenizer and pad_sequences(maxlen=32), exports it as a
SavedModel into OUT/saved_model and writes OUT/tokenizer.json. Convert it afterwards with:

    tensorflowjs_converter --input_format tf_saved_model --signature_name serving_default \\
        OUT/saved_model ~/docbatch-models/topics/1

Then prints the SavedModel's own logits for three sentences, to compare with docbatch.

    python topic_savedmodel.py /tmp/topics-export

Needs TensorFlow 2.x; the converter is `pip install tensorflowjs`.
"""
import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow.keras.preprocessing.sequence import pad_sequences
from tensorflow.keras.preprocessing.text import Tokenizer

out = sys.argv[1] if len(sys.argv) > 1 else "topics-export"
os.makedirs(out, exist_ok=True)
tf.keras.utils.set_random_seed(7)

data = {
    0: ["The team won the match in the last minute", "A great goal from the striker",
        "The coach praised the players after the game", "Fans filled the stadium for the final"],
    1: ["The central bank raised interest rates", "Shares fell as inflation rose",
        "The company reported higher profits this quarter", "Markets rallied after the budget"],
    2: ["The new phone has a faster chip", "The software update fixes security bugs",
        "Engineers released an open source library", "The laptop battery lasts all day"],
}
texts = [t for ts in data.values() for t in ts]
labels = np.array([k for k, ts in data.items() for _ in ts])

tokenizer = Tokenizer(oov_token="<OOV>")
tokenizer.fit_on_texts(texts)
vocab = len(tokenizer.word_index) + 1
x = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=32)

inputs = tf.keras.Input(shape=(32,), dtype="int32", name="ids")
h = tf.keras.layers.Embedding(vocab, 16)(inputs)
h = tf.keras.layers.GlobalAveragePooling1D()(h)
logits = tf.keras.layers.Dense(3, name="logits")(h)
model = tf.keras.Model(inputs, logits)
model.compile(optimizer=tf.keras.optimizers.Adam(0.05),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x, labels, epochs=40, verbose=0)

if hasattr(model, "export"):  # Keras 3
    model.export(os.path.join(out, "saved_model"))
else:  # Keras 2
    tf.saved_model.save(model, os.path.join(out, "saved_model"))
with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
    f.write(tokenizer.to_json())

serve = tf.saved_model.load(os.path.join(out, "saved_model")).signatures["serving_default"]
samples = ["The striker scored twice", "Profits and shares rose", "A faster chip for the laptop"]
feed = pad_sequences(tokenizer.texts_to_sequences(samples), maxlen=32).astype("int32")
result = list(serve(tf.constant(feed)).values())[0].numpy()
for text, row in zip(samples, result):
    print(" ".join(f"{v:.6f}" for v in row), " ", text)
print(f"wrote {out}/saved_model and {out}/tokenizer.json")
