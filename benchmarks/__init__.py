"""Speed and paper-reproduction scripts; run each as a module from the
repository root, for example `python -m benchmarks.ops`. Their recorded
results live in docs/. The VAE code comes from `examples.vae_model` and
`examples.training`.
"""
