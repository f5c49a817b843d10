from pathlib import Path

import pandas as pd
import pytest

from palm_utils.labels import (LabelError, find_label_file, is_image_file, label_from_filename,
                               list_images, training_samples, validation_samples)


@pytest.mark.parametrize("name,label", [("P0001.jpg", 1), ("H0026.jpg", 0), ("N0161.JPG", 0),
                                        ("p0002.jpeg", 1)])
def test_label_from_filename(name, label):
    assert label_from_filename(name) == label


@pytest.mark.parametrize("name", ["V0001.jpg", "X.jpg", "0001.jpg", ""])
def test_unknown_name_raises_naming_the_file(name):
    with pytest.raises(LabelError, match="cannot tell the label") as err:
        label_from_filename(Path("/data/train") / name if name else name)
    if name:
        assert name in str(err.value)


@pytest.mark.parametrize("path,ok", [
    ("a/P0001.jpg", True), ("a/.DS_Store", False), ("a/Thumbs.db", False),
    ("__MACOSX/a/P0001.jpg", False), ("a/._P0001.jpg", False), ("a/notes.txt", False),
])
def test_is_image_file(path, ok):
    assert is_image_file(path) is ok


def test_training_samples_skip_litter(tmp_path):
    for name in ["P0001.jpg", "N0001.jpg", ".DS_Store", "Thumbs.db"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "__MACOSX").mkdir()
    assert [(p.name, y) for p, y in training_samples(tmp_path)] == [("N0001.jpg", 0), ("P0001.jpg", 1)]


def test_training_samples_reject_unknown_name(tmp_path):
    (tmp_path / "P0001.jpg").write_bytes(b"x")
    (tmp_path / "scan7.jpg").write_bytes(b"x")
    with pytest.raises(LabelError, match="scan7.jpg"):
        training_samples(tmp_path)


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="PALM_DATA_DIR"):
        list_images(tmp_path / "nope")


def _table(rows):
    return pd.DataFrame(rows, columns=["ID", "imgName", "Label", "Fovea_X", "Fovea_Y"])


@pytest.fixture
def valid_dir(tmp_path):
    d = tmp_path / "PALM-Validation400"
    d.mkdir()
    for name in ["V0001.jpg", "V0002.jpg", "V0003.jpg"]:
        (d / name).write_bytes(b"x")
    return d


ROWS = [[1, "V0001.jpg", 0, 1.5, 2.5], [2, "V0002.jpg", 1, 3.0, 4.0], [3, "V0003.jpg", 1, 0, 0]]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_validation_labels_xlsx_and_csv(tmp_path, valid_dir, fmt):
    path = tmp_path / f"labels.{fmt}"
    table = _table(ROWS)
    table.to_excel(path, index=False) if fmt == "xlsx" else table.to_csv(path, index=False)
    assert [(p.name, y) for p, y in validation_samples(valid_dir, path)] == [
        ("V0001.jpg", 0), ("V0002.jpg", 1), ("V0003.jpg", 1)]


def test_row_with_missing_image_names_file_and_row(tmp_path, valid_dir):
    path = tmp_path / "labels.csv"
    _table(ROWS + [[4, "V0404.jpg", 1, 0, 0]]).to_csv(path, index=False)
    with pytest.raises(LabelError, match=r"labels.csv, row 5: image V0404.jpg is not in"):
        validation_samples(valid_dir, path)


@pytest.mark.parametrize("bad", [2, -1, 0.5, "yes"])
def test_row_with_bad_label_names_file_and_row(tmp_path, valid_dir, bad):
    path = tmp_path / "labels.xlsx"
    _table([ROWS[0], [2, "V0002.jpg", bad, 0, 0]]).to_excel(path, index=False)
    with pytest.raises(LabelError, match=r"labels.xlsx, row 3 \(V0002.jpg\): label"):
        validation_samples(valid_dir, path)


def test_missing_columns_named(tmp_path, valid_dir):
    path = tmp_path / "labels.csv"
    pd.DataFrame({"name": ["V0001.jpg"], "y": [1]}).to_csv(path, index=False)
    with pytest.raises(LabelError, match=r"missing column\(s\) \['imgName', 'Label'\]"):
        validation_samples(valid_dir, path)


def test_unreadable_label_file(tmp_path, valid_dir):
    path = tmp_path / "labels.xlsx"
    path.write_bytes(b"not a spreadsheet")
    with pytest.raises(LabelError, match="labels.xlsx: cannot read"):
        validation_samples(valid_dir, path)


def test_find_label_file_prefers_original_xlsx(tmp_path):
    (tmp_path / "labels.csv").write_text("x")
    assert find_label_file(tmp_path).name == "labels.csv"
    gt = tmp_path / "PALM-Validation-GT"
    gt.mkdir()
    (gt / "PM_Label_and_Fovea_Location.xlsx").write_bytes(b"x")
    assert find_label_file(tmp_path).name == "PM_Label_and_Fovea_Location.xlsx"
    with pytest.raises(FileNotFoundError, match="prepare"):
        find_label_file(tmp_path / "elsewhere")
