from setuptools import find_packages, setup

# python -m mzsr_tf.batch. Beam 2.77 needs protobuf < 7 and pillow < 13; TF 2.21, TF Serving API 2.21
# and onnx accept protobuf 6.31.1+, so these resolve together (pip check clean).
BEAM = ["apache-beam==2.77.0", "protobuf>=6.31.1,<7", "pillow>=12.1.1,<13"]
# bench/real_photos.py and docs/real_photo.py: scikit-image's bundled photos, OpenCV's INTER_AREA resizer.
PHOTOS = ["scikit-image==0.26.0", "opencv-python-headless==5.1.0.95"]

setup(
    name="mzsr-tf",
    version="0.1.0",
    description="Zero-shot super-resolution the MZSR way (meta-transfer learning) on TensorFlow 2 / Keras 3",
    packages=find_packages(include=["mzsr_tf", "mzsr_tf.*"]),
    package_data={"mzsr_tf": ["weights/*.h5", "weights/*.json", "examples/*.png", "examples/*.npy"]},
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.0",
        "keras==3.15.1",
        "tensorboard==2.21.0",
        "numpy>=1.26",
        "scipy>=1.11",
        "pillow>=10",
        "tifffile==2026.3.3",
        "pypng==0.20220715.0",
        "h5py>=3.10",
        "pyyaml>=6",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "keras-tuner==1.4.8",
        "scikit-learn>=1.3",
        "tf2onnx==1.17.0",
        "onnx==1.23.2",
        "onnxruntime==1.31.1",
        "tensorflow-serving-api==2.21.0",
    ],
    extras_require={
        # scikit-image: the photo test; Gradio and MkDocs: tests/test_ui.py and tests/test_docs.py (mkdocs build
        # --strict); Selenium drives Debian's chromium in bench/browser_ui.py (run on its own, not by pytest)
        "test": ["pytest>=8", "jax[cpu]==0.10.2", *BEAM, "scikit-image==0.26.0", "gradio==6.31.0",
                 "mkdocs==1.6.1", "mkdocs-material==9.8.2", "selenium==4.51.0"],
        # mzsr-tf ui. Gradio 6 accepts Pillow < 13 (Beam's pin); Gradio 5 wants Pillow < 12, which Beam refuses
        "ui": ["gradio==6.31.0"],
        "docs": ["mkdocs==1.6.1", "mkdocs-material==9.8.2"],  # mkdocs build --strict (mkdocs.yml)
        "jax": ["jax[cpu]==0.10.2"],
        "beam": BEAM,
        "photos": PHOTOS,
        # NVIDIA GPUs: TF's CUDA 12 build; onnxruntime-gpu 1.31.1 is built for CUDA 13 and brings its own CUDA 13
        # runtime and cuDNN through its extras (pip resolves both sets side by side). Same version as the CPU
        # onnxruntime pin, whose files it shares: docs/speed.md says how to make the GPU build's the ones in place.
        "gpu": ["tensorflow[and-cuda]==2.21.0", "onnxruntime-gpu[cuda,cudnn]==1.31.1"],
    },
    entry_points={"console_scripts": ["mzsr-tf=mzsr_tf.cli:main"]},
)
