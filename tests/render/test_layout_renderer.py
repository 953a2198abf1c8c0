"""The layout overlay (`app.render.layout_renderer`): translucent block-out
meshes drawn over the splats must leave the framebuffer opaque, because Qt
composes the viewport widget with its alpha channel."""
from __future__ import annotations

import moderngl
import numpy as np

from app.render.layout_renderer import LayoutRenderer
from editor.model.camera import Camera
from editor.model.layout import Box, Layout


def test_translucent_layout_keeps_the_framebuffer_opaque(gl_ctx):
    w, h = 96, 64
    fbo = gl_ctx.framebuffer(color_attachments=[gl_ctx.texture((w, h), 4)],
                             depth_attachment=gl_ctx.depth_renderbuffer((w, h)))
    renderer = LayoutRenderer(gl_ctx)
    try:
        layout = Layout({"b": Box("b", "Box", position=(0.0, 0.0, 4.0), size=(2.0, 1.5, 1.0))}, (0.0, -1.0, 0.0))
        renderer.set_layout(layout, {"b"})
        fbo.use()
        fbo.clear(0.2, 0.4, 0.6, 1.0, depth=1.0)
        camera = Camera((0, 0, 0), (0, 0, 1), (0, -1, 0), 50.0, w, h)
        renderer.draw(fbo, camera, 0.1, 100.0)
        rgba = np.frombuffer(fbo.read(components=4), np.uint8).reshape(h, w, 4)
        centre = rgba[h // 2, w // 2, :3].astype(int)
        assert np.abs(centre - [51, 102, 153]).max() > 10  # the box was drawn over the background
        assert rgba[..., 3].min() == 255  # and the alpha stayed opaque everywhere
    finally:
        gl_ctx.detect_framebuffer(0).use()  # moderngl rebinds the last used framebuffer later
        renderer.release()
        for attachment in (*fbo.color_attachments, fbo.depth_attachment):
            attachment.release()
        fbo.release()
