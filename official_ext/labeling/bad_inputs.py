"""Bad unlabeled inputs: find which records the labeling stream dropped, and why.

The labeling pipeline drops records it cannot read or decode (tf.data
`ignore_errors`, so one corrupt image does not stop a million-image run).
Every element carries (file index, record index), so a dropped record shows
up as a gap; `RecordTracker` finds the gaps, and each dropped record is
re-read here, in Python, at its offset, to name its reason.

`TFRecordDataset` gives up on the rest of a file at the first record whose
data fails its checksum, so the good records after it arrive as a gap too.
A scan of the file's 12-byte record headers (each with its own checksum)
knows where every record starts, so such a record is read here on its own,
found good, and handed back to be labeled (`on_recover`): a damaged record
costs only itself. Only a damaged length header, or a file cut short, loses
what follows it, since nothing then says where the next record starts.
"""

import dataclasses
import re
import struct
from typing import Callable, Iterable, List, Optional, Set, Tuple

import tensorflow as tf
# TFRecord's checksum (CRC-32C, masked), as TensorBoard's event writer uses it.
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

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


@dataclasses.dataclass(frozen=True)
class RecordIndex:
  """Where each record of a TFRecord file starts, from its headers alone.

  `records`: (offset of the header, data length) of every record whose
  header is intact and which ends inside the file. `end`: None when the
  records tile the file, else (reason, detail) of what stops the scan
  there: the file is cut inside a record, or a length header is damaged
  (so where the next record starts is unknown).
  """
  records: List[Tuple[int, int]]
  end: Optional[Tuple[str, str]] = None


def index_records(path: str) -> RecordIndex:
  """Scans a TFRecord file's record headers, seeking over the data: costs
  little next to decoding the images.

  Args:
    path: the TFRecord file.

  Returns:
    Its RecordIndex: each intact record's (offset, length) and, when the
    scan stopped early, (reason, detail) of where.
  """
  records, pos = [], 0
  with tf.io.gfile.GFile(path, 'rb') as f:
    size = f.size()
    while pos < size:
      k = len(records)
      if size - pos < _HEADER:
        return RecordIndex(records, (TRUNCATED_FILE,
                                     f'file ends inside record {k}'))
      f.seek(pos)
      header = f.read(_HEADER)
      (length,) = struct.unpack('<Q', header[:8])
      if struct.unpack('<I', header[8:])[0] != masked_crc32c(header[:8]):
        return RecordIndex(records, (
            CORRUPT_RECORD, f'length header of record {k} (byte {pos}) is '
            f'damaged; the {size - pos} bytes from there on cannot be split '
            'into records'))
      end = pos + _HEADER + length + _FOOTER
      if end > size:
        return RecordIndex(records, (TRUNCATED_FILE,
                                     f'file ends inside record {k}'))
      records.append((pos, length))
      pos = end
  return RecordIndex(records)


def scan_records(path: str) -> Tuple[int, bool]:
  """How many records of a file are intact.

  Args:
    path: the TFRecord file.

  Returns:
    (records whose header is intact, whether the scan stopped early).
  """
  index = index_records(path)
  return len(index.records), index.end is not None


def read_record(f, offset: int, length: int) -> Tuple[Optional[bytes], str]:
  """Reads one record's data and checks it.

  Args:
    f: the open file.
    offset: the record's offset (`index_records`).
    length: its data's length.

  Returns:
    (data, '') or, when its data fails its checksum, (None, detail).
  """
  f.seek(offset + _HEADER)
  data = f.read(length)
  (crc,) = struct.unpack('<I', f.read(_FOOTER))
  if crc != masked_crc32c(data):
    return None, f'data checksum mismatch (record at byte {offset})'
  return data, ''


def check_example(data: bytes) -> Optional[Tuple[str, str]]:
  """Why a record's bytes cannot be labeled.

  Args:
    data: the record's bytes.

  Returns:
    (reason, detail), or None when they hold a decodable image.
  """
  try:
    example = tf.train.Example.FromString(data)
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
  return None


def _diagnose(f, record: Tuple[int, int]
              ) -> Tuple[Optional[bytes], Optional[Tuple[str, str]]]:
  """(data, None) for a good record, else (None, (reason, detail))."""
  data, detail = read_record(f, *record)
  if data is None:
    return None, (CORRUPT_RECORD, detail)
  problem = check_example(data)
  return (None, problem) if problem else (data, None)


def diagnose(path: str, index: int) -> Tuple[str, str]:
  """Why one record of a file cannot be labeled.

  Args:
    path: the TFRecord file.
    index: the record's index in it.

  Returns:
    (reason, detail); (UNKNOWN, ...) for a record that reads and decodes
    here.
  """
  scan = index_records(path)
  if index >= len(scan.records):
    return scan.end or (TRUNCATED_FILE, 'record missing')
  with tf.io.gfile.GFile(path, 'rb') as f:
    _, problem = _diagnose(f, scan.records[index])
  return problem or (UNKNOWN, 'decodes here; dropped by the labeling pipeline')


# A good record the stream dropped, and which `on_recover` could not label.
_NOT_RECOVERED = (UNKNOWN, 'decodes here; dropped by the labeling pipeline '
                  'and again when labeled on its own')


class RecordTracker:
  """Follows (file, record) positions of a stream in input order.

  Every record that never arrived is re-read: a bad one is reported through
  `on_skip(file_index, record_index, reason, detail)`; good ones (those after
  a record that failed its checksum) go, in order and before the stream's
  next record, to `on_recover(file_index, [(record_index, data)...])`, which
  labels them and returns the record indices it labeled. Without
  `on_recover`, good records are reported as UNKNOWN.
  """

  def __init__(self, files: List[str],
               on_skip: Callable[[int, int, str, str], None],
               on_recover: Optional[Callable[[int, List[Tuple[int, bytes]]],
                                             Iterable[int]]] = None):
    self.files = files
    self.on_skip = on_skip
    self.on_recover = on_recover
    self.file = 0
    self.next_record = 0
    self._index: Optional[RecordIndex] = None  # Of file `self.file`.

  def _file_index(self) -> RecordIndex:
    if self._index is None:
      self._index = index_records(self.files[self.file])
    return self._index

  def _fill_gap(self, stop: Optional[int]):
    """Records [next_record, stop) of the current file (None: to its end)."""
    if stop is not None and self.next_record >= stop:
      return  # No gap: the file's headers are not read.
    scan = self._file_index()
    stop = len(scan.records) if stop is None else stop
    good = []
    with tf.io.gfile.GFile(self.files[self.file], 'rb') as f:
      for k in range(self.next_record, min(stop, len(scan.records))):
        data, problem = _diagnose(f, scan.records[k])
        if problem:
          self.on_skip(self.file, k, *problem)
        else:
          good.append((k, data))
    labeled: Set[int] = set()
    if good and self.on_recover is not None:
      labeled = set(self.on_recover(self.file, good))
    for k, _ in good:
      if k not in labeled:
        self.on_skip(self.file, k, *_NOT_RECOVERED)

  def _finish_file(self):
    self._fill_gap(None)
    scan = self._file_index()
    if scan.end is not None:
      self.on_skip(self.file, len(scan.records), *scan.end)
    self.file += 1
    self.next_record = 0
    self._index = None

  def seen(self, file_index: int, record_index: int):
    """A record that arrived; handles those dropped before it.

    Args:
      file_index: its file's index.
      record_index: its index in the file.
    """
    while self.file < file_index:
      self._finish_file()
    self._fill_gap(record_index)
    self.next_record = record_index + 1

  def finish(self, up_to: Optional[int] = None):
    """Closes the files before one.

    Args:
      up_to: the first file left open (default: close all).
    """
    up_to = len(self.files) if up_to is None else up_to
    while self.file < up_to:
      self._finish_file()
