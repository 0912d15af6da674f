"""Reproducible runs: the backend's determinism switch and what the numbers
depend on.

With a fixed seed (`keras.utils.set_random_seed`, which every example calls)
a run on the CPU repeats to the last digit on one machine, whatever the
thread count (measured: docs/example_vae.md). What still changes the numbers
is the floating-point path: the instruction set the CPU kernels pick
(oneDNN chooses AVX-512 or AVX2 code at run time), whether TensorFlow's
oneDNN kernels are on (`TF_ENABLE_ONEDNN_OPTS`), and the library versions.
`environment()` records these next to the results, so that two runs that
disagree say why; `enable_op_determinism()` turns on the backend's own
determinism mode, for the kernels that are not deterministic by default
(GPU reductions, for example).
"""

import os
import platform

import keras
import numpy as np

# Environment variables that change the floating-point path or the threads.
NUMERICS_VARIABLES = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA",
                      "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                      "OMP_NUM_THREADS", "XLA_FLAGS")


def enable_op_determinism():
    """Asks the backend for deterministic kernels; returns what it did.

    TensorFlow: `tf.config.experimental.enable_op_determinism()` (ops with
    no deterministic kernel then raise instead of varying). PyTorch:
    `torch.use_deterministic_algorithms(True)`. JAX: nothing to switch on
    the CPU, whose XLA kernels are deterministic; on a GPU, set
    `XLA_FLAGS=--xla_gpu_deterministic_ops=true` before starting Python.

    Returns:
      A short description for the run's metrics.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        return "tf.config.experimental.enable_op_determinism()"
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
        return "torch.use_deterministic_algorithms(True)"
    return "none needed on the CPU (XLA_FLAGS for GPUs)"


def environment():
    """What the run's floating-point path depends on, for metrics.json.

    Returns:
      A dict: the backend and its version, Keras, NumPy and Python versions,
      the machine (`platform.machine()`, CPU count) and the environment
      variables of `NUMERICS_VARIABLES` that are set.
    """
    backend = keras.backend.backend()
    return {
        "backend": backend,
        "backend_version": __import__(backend).__version__,
        "keras": keras.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
        **_cpu(),
        "variables": {name: os.environ[name] for name in NUMERICS_VARIABLES
                      if name in os.environ},
    }


def _cpu():
    """The CPU's model name and widest x86 vector extension, where Linux
    says (`/proc/cpuinfo`); an empty dict elsewhere."""
    try:
        with open("/proc/cpuinfo") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = fields.get("flags", "").split()
    widest = next((isa for isa in ("avx512f", "avx2", "avx", "sse4_1")
                   if isa in flags), None)
    return {"cpu": fields.get("model name"), "vector_isa": widest}
