"""official_ext: self-training for the TensorFlow Model Garden."""
import setuptools

# Exact pins: the Model Garden moves fast and its internals are what we subclass.
INSTALL_REQUIRES = [
    'tensorflow==2.20.0',
    'tf-keras==2.20.1',
    'tf-models-official==2.20.0',
    'pycocotools==2.0.10',
    'absl-py==1.4.0',
    # 2.4 turned int(1-element array) into an error; Model Garden 2.20's
    # COCO evaluator (coco_utils.convert_groundtruths_to_coco_dataset) does it.
    'numpy==2.3.5',
    # apache-beam 2.77 requires pillow<13 and protobuf<7.
    'Pillow==12.3.0',
    'protobuf==6.33.6',
    # Pseudo-labeling on Beam runners (--runner=...); [tfrecord] brings the
    # CRC library its TFRecord I/O needs. Cloud I/O extras ([gcp], ...) are
    # for the user to add where they launch.
    'apache-beam[tfrecord]==2.77.0',
    'scikit-learn==1.7.2',
    'matplotlib==3.11.2',
    # Imported directly (already brought by the packages above; pinned here
    # so their versions do not drift): SBD masks, progress bars, params.yaml.
    'scipy==1.17.1',
    'tqdm==4.70.1',
    'PyYAML==6.0.3',
    # TensorBoard's event reader (utils/summaries.py); the version
    # tensorflow 2.20 brings.
    'tensorboard==2.20.0',
    # The study's pre-training lock (released by the kernel if its holder
    # dies).
    'filelock==3.20.0',
]

setuptools.setup(
    name='official_ext',
    version='0.1.0',
    description='Self-training (teacher -> pseudo labels -> student) for '
                'TF Model Garden detection and segmentation.',
    # The YAML recipes stay at the top of the repository (configs/experiments,
    # where the docs point) and install as the package `official_ext.recipes`
    # (read with importlib.resources), so a wheel install finds them too.
    packages=(setuptools.find_packages(include=['official_ext',
                                                'official_ext.*']) +
              ['official_ext.recipes']),
    package_dir={'official_ext.recipes': 'configs/experiments'},
    package_data={'official_ext.recipes': ['*.yaml']},
    python_requires='>=3.11,<3.12',
    install_requires=INSTALL_REQUIRES,
    # Every tool, also as `python -m official_ext.tools.<name>`.
    entry_points={'console_scripts': [
        f'official-ext-{name.replace("_", "-")}=official_ext.tools.{name}:run'
        for name in ('train', 'export_saved_model', 'pseudo_label',
                     'images_to_tfrecord', 'make_digits_dataset',
                     'make_shapes_dataset', 'create_pascal_tfrecord', 'demo',
                     'benchmark', 'study', 'compare_teachers',
                     'reshard_tfrecords', 'self_train', 'dry_run')]},
    extras_require={'test': ['pytest==8.4.2', 'pytest-xdist==3.8.0',
                             'execnet==2.1.2'],
                    # Labeling on a Dask cluster (--runner=DaskRunner).
                    'dask': ['dask==2026.8.0', 'distributed==2026.8.0']},
)
