"""GL fixtures for the renderer tests: one headless EGL context for the
package, and a check that no test leaves a GL error behind."""
import os

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="package")
def gl_ctx():
    """A standalone EGL context (GL 4.5 on Mesa llvmpipe); skips the test with
    the reason when no headless GL is available. Released after the package,
    before other packages' tests (Qt's GLX contexts) run. Tests get it current
    (see below); module-scoped fixtures must use ``with gl_ctx:`` themselves."""
    from app.render.gl_context import HeadlessContextError, create_headless_context, release_headless_context

    try:
        ctx = create_headless_context()
    except HeadlessContextError as e:
        pytest.skip(str(e))
    yield ctx
    # leaves no EGL context current: Qt's GLX contexts in later tests need that
    release_headless_context(ctx)


@pytest.fixture(autouse=True)
def _gl_current_and_no_error(request):
    """Tests that use ``gl_ctx`` run with it current (other tests, e.g. the
    CLI's, make and free contexts of their own) and must leave no GL error."""
    if "gl_ctx" not in request.fixturenames:
        yield
        return
    ctx = request.getfixturevalue("gl_ctx")
    with ctx:
        yield
        assert ctx.error == "GL_NO_ERROR"
