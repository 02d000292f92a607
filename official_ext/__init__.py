"""Self-training for the TensorFlow Model Garden (Zoph et al., NeurIPS 2020)."""

import os as _os

# Model Garden builds its models with tf_keras (Keras 2). Unless told so,
# `import tensorflow` (2.16+) also imports Keras 3 eagerly (and scikit-learn
# through it), which nothing here uses: about a second of every tool's start on a
# small CPU. TensorFlow reads this when it is first imported, so it takes effect for
# a process that imports official_ext (e.g. `python -m official_ext.tools.X`)
# before tensorflow; a user's own setting wins.
_os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
