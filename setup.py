from setuptools import find_packages, setup

setup(
    name="mzsr-tf",
    version="0.1.0",
    description="Zero-shot super-resolution the MZSR way (meta-transfer learning) on TensorFlow 2 / Keras 3",
    packages=find_packages(include=["mzsr_tf", "mzsr_tf.*"]),
    package_data={"mzsr_tf": ["weights/*.h5", "weights/*.json", "examples/*.png"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.0",
        "keras==3.15.1",
        "numpy>=1.26",
        "scipy>=1.11",
        "pillow>=10",
        "h5py>=3.10",
        "pyyaml>=6",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "keras-tuner==1.4.8",
        "tf2onnx==1.17.0",
        "onnx==1.23.2",
        "onnxruntime==1.31.1",
        "tensorflow-serving-api==2.21.0",
    ],
    extras_require={"test": ["pytest>=8"], "jax": ["jax[cpu]"]},
    entry_points={"console_scripts": ["mzsr-tf=mzsr_tf.cli:main"]},
)
