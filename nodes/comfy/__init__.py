"""The only modules of the pack that touch ComfyUI internals (anything beyond ``comfy_api``).

* ``sampling``: noise levels, forward coefficients, sigma schedules, sampler objects (``comfy.samplers``,
  ``comfy.model_sampling``, ``latent_preview``, ``comfy.k_diffusion``).
* ``pack_samplers``: the pack's own samplers (boomerang_exact, boomerang_fast) as ComfyUI sampler functions.
* ``pixel``: a diffusers pixel-space DDPM as a ComfyUI ``BaseModel`` + pixel-space VAE (``comfy.model_base``,
  ``comfy.sd``, ``folder_paths``).
* ``family``: what a loaded model's family and network take (family name, network multiple, patch side).
* ``tiling``: the tiled denoiser, a ``model_function_wrapper`` that knows the conditioning layout.

The node modules one level up import ComfyUI only through this package and ``comfy_api``. Inside it,
``import comfy.samplers`` is ComfyUI's top-level ``comfy`` package (absolute import); the pack's own modules
are imported relatively.
"""
