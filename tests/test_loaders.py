import numpy as np
import pytest

from palm_utils import loaders, quick
from palm_utils.layout import CSV_NAME, TRAIN_DIR, VALID_DIR
from palm_utils.reader import ImageCache
from palm_utils.runtime import paddle


def _epoch_names(reader):
    return [tuple(map(float, lab.ravel())) for _, lab in reader()]


def test_generator_shapes_and_dtypes(mini_palm):
    reader = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=8, cache=ImageCache())
    batches = list(reader())
    assert [len(b[0]) for b in batches] == [8, 8, 4]
    imgs, labels = batches[0]
    assert imgs.shape == (8, 3, 224, 224) and imgs.dtype == np.float32
    assert labels.shape == (8, 1) and labels.dtype == np.float32
    assert -1.0 <= imgs.min() and imgs.max() <= 1.0
    assert reader.num_batches == 3


def test_valid_loader_keeps_order_and_labels(mini_palm):
    reader = loaders.valid_data_loader(mini_palm / VALID_DIR, mini_palm / CSV_NAME, batch_size=10,
                                       cache=ImageCache())
    labels = np.concatenate([lab for _, lab in reader()]).ravel()
    assert labels.tolist() == [i % 2 for i in range(20)]


def test_training_order_reshuffled_every_epoch_and_repeatable(mini_palm):
    cache = ImageCache()
    order = lambda seed: loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=20, seed=seed,
                                             cache=cache)
    first_reader = order(1)
    epoch1, epoch2 = (np.concatenate([x[:, 0, 112, 112] for x, _ in first_reader()]) for _ in range(2))
    assert not np.array_equal(epoch1, epoch2)  # a new order each epoch
    again = np.concatenate([x[:, 0, 112, 112] for x, _ in order(1)()])
    assert np.array_equal(epoch1, again)  # the same seed repeats the order
    assert sorted(epoch1) == sorted(epoch2)  # same images, other order


def test_second_epoch_decodes_nothing(mini_palm):
    cache = ImageCache()
    reader = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=10, cache=cache)
    list(reader())
    assert cache.decodes == 20
    list(reader())
    list(reader())
    assert cache.decodes == 20


def test_augmentation_changes_images_but_not_labels(mini_palm):
    cache = ImageCache()
    plain = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=20, seed=3, cache=cache)
    aug = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=20, seed=3, augment=True, cache=cache)
    (x0, y0), = list(plain())
    (x1, y1), = list(aug())
    assert np.array_equal(y0, y1)
    assert x1.shape == x0.shape and not np.allclose(x0, x1)


def test_augmentation_options_and_global_seed(mini_palm):
    from palm_utils.runtime import set_seed

    cache = ImageCache()
    flips = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=20, seed=3, cache=cache,
                                augment=dict(max_rotate=0, brightness=0))
    plain = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=20, seed=3, cache=cache)
    (xf, _), = list(flips())
    (xp, _), = list(plain())
    for a, b in zip(xf, xp):  # each image is either untouched or mirrored
        assert np.array_equal(a, b) or np.array_equal(a, b[..., ::-1])

    def epoch_without_seed():
        set_seed(11)
        reader = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=20, augment=True, cache=cache)
        return list(reader())[0][0]

    assert np.array_equal(epoch_without_seed(), epoch_without_seed())  # set_seed makes it repeat


def test_dataset_with_dataloader_and_workers(mini_palm):
    ds = loaders.PalmDataset.train(mini_palm / TRAIN_DIR, cache=ImageCache()).preload()
    img, label = ds[0]
    assert img.shape == (3, 224, 224) and img.dtype == np.float32
    assert label.shape == (1,) and label.dtype == np.float32
    dl = paddle.io.DataLoader(ds, batch_size=6, shuffle=True, num_workers=2)
    seen = 0
    for x, y in dl:
        assert x.shape[1:] == [3, 224, 224] and y.shape[1:] == [1]
        assert str(x.dtype).endswith("float32")
        seen += x.shape[0]
    assert seen == 20


def test_quick_mode_caps_batches_and_validation(mini_palm, monkeypatch, capsys):
    full_train = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=4, cache=ImageCache())
    monkeypatch.setattr(quick, "LIMITS", quick.Limits(train_batches=2, valid_images=6))
    train = loaders.data_loader(mini_palm / TRAIN_DIR, batch_size=4, cache=ImageCache())
    assert len(list(train())) == 2 and train.num_batches == 2 < full_train.num_batches
    assert train.num_samples == 8
    valid = loaders.valid_data_loader(mini_palm / VALID_DIR, mini_palm / CSV_NAME, batch_size=4,
                                      cache=ImageCache())
    labels = np.concatenate([y for _, y in valid()]).ravel()
    assert len(labels) == 6 and set(labels) == {0.0, 1.0}
    assert valid.labels.tolist() == labels.tolist()   # what majority_baseline(valid) reads
    # the paddle.io form lists its images in the same place
    assert len(loaders.PalmDataset.valid(mini_palm / VALID_DIR, mini_palm / CSV_NAME)) == 6
    assert len(loaders.PalmDataset.train(mini_palm / TRAIN_DIR)) == 20
    assert capsys.readouterr().out == ""           # the loaders apply it silently
    assert quick.epochs(5, say=print) == 1
    assert "quick mode: 1 of 5 epochs (unset PALM_QUICK" in capsys.readouterr().out
    monkeypatch.setattr(quick, "LIMITS", None)
    assert quick.epochs(5) == 5 and capsys.readouterr().out == ""
