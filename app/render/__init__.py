"""The moderngl renderer (no Qt): `splat_renderer.SplatRenderer` draws a
`SplatCloud` into any framebuffer; `offscreen` renders headless images (EGL);
`interaction.InteractionBudget` keeps a moving viewport at >= 30 fps;
`radix_sort` / `cpu_sort` order splats back to front; `projection` holds the
clip-space conventions every renderer of a frame shares. Shaders live in
``<repo>/shaders`` (see `shader_loader`)."""
