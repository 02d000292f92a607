"""Bad unlabeled inputs: find which records the labeling stream dropped, and why.

The labeling pipeline drops records it cannot read or decode (tf.data
`ignore_errors`, so one corrupt image does not stop a million-image run).
Every element carries (file index, record index), so a dropped record shows
up as a gap; `RecordTracker` finds the gaps, and each dropped record is
re-read here, in Python, to name its reason. A file's end is checked
against a scan of its record headers, so records dropped at the end of a
file and truncated files are counted too.
"""

import re
import struct
from typing import Callable, List, Optional, Tuple

import tensorflow as tf

# Reasons, as counted in the report's `skipped_reasons`.
TRUNCATED_FILE = 'truncated_tfrecord_file'
CORRUPT_RECORD = 'corrupt_tfrecord_record'
NOT_AN_EXAMPLE = 'not_a_tf_example'
NO_IMAGE = 'missing_image_encoded'
EMPTY_IMAGE = 'zero_byte_image'
UNDECODABLE = 'undecodable_image'
UNKNOWN = 'unknown_error'

_HEADER = 12  # uint64 length + uint32 masked crc of the length.
_FOOTER = 4   # uint32 masked crc of the data.


class BadInputError(ValueError):
  """A bad input under --strict."""


def scan_records(path: str) -> Tuple[int, bool]:
  """(complete records in a TFRecord file, whether it ends mid-record).

  Reads only the 12-byte record headers (seeking over the data), so it costs
  little next to decoding the images.
  """
  count, pos = 0, 0
  with tf.io.gfile.GFile(path, 'rb') as f:
    size = f.size()
    while pos < size:
      if size - pos < _HEADER:
        return count, True
      f.seek(pos)
      (length,) = struct.unpack('<Q', f.read(8))
      end = pos + _HEADER + length + _FOOTER
      if end > size:
        return count, True
      count, pos = count + 1, end
  return count, False


def diagnose(path: str, index: int) -> Tuple[str, str]:
  """(reason, detail) why record `index` of `path` cannot be labeled."""
  try:
    raw = next(iter(tf.data.TFRecordDataset(path).skip(index).take(1)))
  except StopIteration:
    return TRUNCATED_FILE, 'record missing'
  except tf.errors.DataLossError as e:
    return CORRUPT_RECORD, e.message.splitlines()[0]
  try:
    example = tf.train.Example.FromString(raw.numpy())
  except Exception as e:  # pylint: disable=broad-except
    return NOT_AN_EXAMPLE, str(e).splitlines()[0] if str(e) else type(e).__name__
  feature = example.features.feature.get('image/encoded')
  if feature is None or not feature.bytes_list.value:
    return NO_IMAGE, 'no image/encoded feature'
  encoded = feature.bytes_list.value[0]
  if not encoded:
    return EMPTY_IMAGE, 'image/encoded is empty'
  try:
    tf.io.decode_image(encoded, channels=3, expand_animations=False)
  except (tf.errors.InvalidArgumentError, ValueError) as e:
    message = str(getattr(e, 'message', e))
    # Drop TensorFlow's "{{function_node ...}} " op prefix.
    return UNDECODABLE, re.sub(r'\{\{.*?\}\}\s*', '', message).splitlines()[0]
  return UNKNOWN, 'decodes here; dropped by the labeling pipeline'


class RecordTracker:
  """Follows (file, record) positions of a stream in input order; reports
  every record that never arrived through `on_skip(file_index, record_index,
  reason, detail)`."""

  def __init__(self, files: List[str],
               on_skip: Callable[[int, int, str, str], None]):
    self.files = files
    self.on_skip = on_skip
    self.file = 0
    self.next_record = 0

  def _finish_file(self):
    path = self.files[self.file]
    count, truncated = scan_records(path)
    for k in range(self.next_record, count):
      self.on_skip(self.file, k, *diagnose(path, k))
    if truncated:
      self.on_skip(self.file, count, TRUNCATED_FILE,
                   f'file ends inside record {count}')
    self.file += 1
    self.next_record = 0

  def seen(self, file_index: int, record_index: int):
    """A record that arrived; reports those skipped before it."""
    while self.file < file_index:
      self._finish_file()
    path = self.files[file_index]
    for k in range(self.next_record, record_index):
      self.on_skip(file_index, k, *diagnose(path, k))
    self.next_record = record_index + 1

  def finish(self, up_to: Optional[int] = None):
    """Closes files before `up_to` (default: all files)."""
    up_to = len(self.files) if up_to is None else up_to
    while self.file < up_to:
      self._finish_file()
