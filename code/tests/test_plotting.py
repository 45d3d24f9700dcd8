"""The book's figure style (worked.plotting.book_style), checked on rendered pixels rather
than on the settings it writes: no frame line on the top and right of the axes, and a grid
that is drawn but faint next to the data (under a quarter of a data line's contrast)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from worked.plotting import book_style  # noqa: E402


@pytest.fixture
def styled():
    """A rendered figure in the book's style: axes from 0 to 1 with one data line, as a
    greyscale image (0 black, 255 white) and the axes' box in image pixels."""
    with matplotlib.rc_context():
        book_style()
        fig, ax = plt.subplots()
        ax.plot([0.2, 0.8], [0.05, 0.05], color="C0", linewidth=2)  # away from the frame
        ax.set(xlim=(0, 1), ylim=(0, 1))
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=2)
        box = ax.get_window_extent()
        height = image.shape[0]
        # image rows count from the top, display coordinates from the bottom
        left, right = int(round(box.x0)), int(round(box.x1))
        top, bottom = height - int(round(box.y1)), height - int(round(box.y0))
        yield image, (left, right, top, bottom), ax
        plt.close(fig)


def darkest_line(image, rows, cols):
    """The darkest pixel of the darkest row (rows ⨯ cols): how dark a line in there is."""
    return image[np.ix_(rows, cols)].min(axis=1).min()


def test_only_the_left_and_bottom_spines_are_drawn(styled):
    image, (left, right, top, bottom), _ = styled
    inner_cols = np.arange(left + 5, right - 5)
    inner_rows = np.arange(top + 5, bottom - 5)
    band = lambda edge: np.arange(edge - 2, edge + 3)  # noqa: E731  (the edge ± 2 pixels)
    # left and bottom: a dark frame line; top and right: nothing darker than the light grid
    assert darkest_line(image, band(bottom), inner_cols) < 80
    assert darkest_line(image.T, band(left), inner_rows) < 80
    assert darkest_line(image, band(top), inner_cols) > 150
    assert darkest_line(image.T, band(right), inner_rows) > 150


def test_the_grid_is_drawn_and_faint_next_to_the_data(styled):
    image, (left, right, top, bottom), ax = styled

    def contrast(y, cols):
        """How much darker than the white background a horizontal line at data y is (the
        median over columns of the darkest pixel within 2 pixels of it)."""
        row = image.shape[0] - int(round(ax.transData.transform((0, y))[1]))
        return 255 - np.median(image[row - 2:row + 3][:, cols].min(axis=0))

    assert np.isclose(ax.get_yticks(), 0.6).sum() == 1  # a grid line at y = 0.6
    grid = contrast(0.6, np.arange(left + 5, right - 5))
    data = contrast(0.05, np.arange(*ax.transData.transform([(0.3, 0), (0.7, 0)])[:, 0].round().astype(int)))
    assert grid > 5  # drawn
    assert grid < data / 4  # faint next to the data
