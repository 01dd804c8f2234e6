"""TrainConfig: one declaration per setting, checked once; every invalid value gets one UserError sentence."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitlab import UserError
from digitlab.learn.config import DEFAULTS, NAMES, TrainConfig, kind, parse_sizes, range_text, spec, validate


def test_every_setting_declares_a_label_and_help():
    for name in NAMES:
        s = spec(name)
        assert s.label and s.help.endswith(".")
        if kind(name) in (int, float, list):
            assert s.low is not None and s.high is not None, name  # every number is bounded
        if s.choices:
            assert getattr(DEFAULTS, name) in s.choices


def test_range_text():
    assert range_text(spec("batch_size")) == "between 1 and 48000"
    assert range_text(spec("lr")) == "greater than 0 and at most 10"
    assert range_text(spec("dropout")) == "at least 0 and below 1"
    assert range_text(spec("gamma")) == "greater than 0 and at most 1"


@pytest.mark.parametrize("name,value,message", [
    ("lr", 0, "Learning rate must be greater than 0 and at most 10, got 0."),
    ("batch_size", 48_001, "Batch size must be between 1 and 48000, got 48001."),
    ("epochs", 0, "Epochs must be between 1 and 1000, got 0."),
    ("dropout", 1.0, "Dropout must be at least 0 and below 1, got 1."),
    ("optimizer", "adagrad", "Unknown optimizer 'adagrad': choose one of sgd, momentum, adam, adamw, rmsprop."),
    ("hidden", [128, 0], "Hidden layer sizes must be between 1 and 65536, got 0."),
    ("hidden", [], "Hidden layer sizes must be a list of 1 to 16 whole numbers such as 512, 128; got []."),
    ("channels", [8, 8, 8], "CNN channels must be a list of 1 to 2 whole numbers"),
    ("kernel", 4, "Kernel size must be odd (1, 3, 5 or 7) so that a convolution keeps the image's size, got 4."),
    ("kernel", 9, "Kernel size must be between 1 and 7, got 9."),
    ("convs", 0, "Convolutions must be between 1 and 3, got 0."),
    ("lr", float("nan"), "Learning rate must be a number, got nan."),
    ("epochs", 2.5, "Epochs must be a whole number, got 2.5."),
    ("epochs", True, "Epochs must be a whole number, got True."),
    ("shuffle", "yes", "Shuffle must be true or false, got 'yes'."),
    ("name", "x" * 81, "Name must be at most 80 characters, got 81."),
    ("teacher", "../cnn", "Teacher must name a shipped model (such as cnn-default) or a run (such as run:12), got "
                          "'../cnn'."),
    ("val_size", 999, "Validation images must be between 1000 and 30000, got 999."),
    ("val_size", 60_000, "Validation images must be between 1000 and 30000, got 60000."),
])
def test_one_sentence_per_bad_value(name, value, message):
    with pytest.raises(UserError) as e:
        validate(TrainConfig(**{name: value}))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_valid_values_are_converted_to_their_kind():
    c = validate(TrainConfig(lr=1, epochs=3.0, hidden=(64.0, 32), momentum=0))
    assert c.lr == 1.0 and isinstance(c.lr, float) and c.epochs == 3 and isinstance(c.epochs, int)
    assert c.hidden == [64, 32] and all(isinstance(h, int) for h in c.hidden)


def test_nesterov_needs_momentum():
    with pytest.raises(UserError, match="Nesterov needs the momentum optimizer"):
        validate(TrainConfig(nesterov=True, optimizer="adam"))
    assert validate(TrainConfig(nesterov=True, optimizer="momentum")).nesterov


def test_from_dict_rejects_unknown_keys_and_reads_old_names():
    with pytest.raises(UserError, match="Unknown setting 'learning_rate'"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(UserError, match="must be a mapping"):
        TrainConfig.from_dict(["lr", 0.1])
    old = TrainConfig.from_dict({"norm": "layer", "normalize": "symmetric", "hidden": [30, 5]})
    assert (old.norm_layer, old.input_norm, old.hidden) == ("layer", "symmetric", [30, 5])
    assert TrainConfig.from_dict(TrainConfig(dropout=0.2).to_dict()) == TrainConfig(dropout=0.2)


def test_parse_sizes():
    assert parse_sizes("512, 128") == [512, 128] and parse_sizes("32 64", "channels") == [32, 64]
    with pytest.raises(UserError, match="Hidden layer sizes must be whole numbers separated by commas"):
        parse_sizes("64, zero")
    with pytest.raises(UserError, match="CNN channels must be a list of 1 to 2"):
        parse_sizes("", "channels")


anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=100), st.lists(st.integers(-10, 10**6), max_size=20),
                     st.lists(st.floats(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(NAMES), value=anything)
def test_any_value_is_accepted_or_refused_with_one_user_error(name, value):
    try:
        c = validate(TrainConfig(**{name: value}))
    except UserError as e:
        assert str(e) and "\n" not in str(e)
        return
    v = getattr(c, name)  # accepted: then it is of the setting's kind and within its declaration
    s = spec(name)
    assert isinstance(v, kind(name)) and not (kind(name) in (int, float) and isinstance(v, bool))
    if s.choices:
        assert v in s.choices
    for item in (v if kind(name) is list else [v] if kind(name) in (int, float) else []):
        assert math.isfinite(item) and s.low <= item <= s.high


def test_settings_that_do_not_apply_are_named():
    from digitlab.learn.config import applies

    assert not applies("channels", "mlp", "adam", "none") and applies("channels", "cnn", "adam", "none")
    assert not applies("nesterov", "mlp", "adam", "none") and applies("momentum", "mlp", "momentum", "none")
    assert not applies("gamma", "mlp", "adam", "cosine") and applies("step_size", "mlp", "adam", "step")
    assert applies("lr", "mlp", "adam", "none")


def test_which_settings_a_form_uses():
    from digitlab.learn.config import applies

    cnn = "".join(["cn", "n"])  # a value read from a form, not the literal itself
    for optimizer in ("sgd", "momentum", "adam", "adamw", "rmsprop"):
        for name in ("momentum", "nesterov"):
            assert applies(name, "mlp", optimizer, "none") is (optimizer == "momentum"), (name, optimizer)
    assert applies("channels", cnn, "adam", "none") and not applies("channels", "mlp", "adam", "none")
    assert applies("gamma", "mlp", "adam", "step") and not applies("step_size", "mlp", "adam", "cosine")
    assert applies("lr", "mlp", "sgd", "none")


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_nesterov_needs_the_momentum_optimizer(optimizer):
    with pytest.raises(UserError, match="Nesterov needs the momentum optimizer"):
        validate(TrainConfig(optimizer=optimizer, nesterov=True))
    with pytest.raises(UserError, match="Nesterov needs the momentum optimizer"):
        validate(TrainConfig(optimizer="momentum", momentum=0.0, nesterov=True))
    assert validate(TrainConfig(optimizer="momentum", nesterov=True)).nesterov


def test_bounds_at_their_edges():
    assert validate(TrainConfig(seed=2**32 - 1)).seed == 2**32 - 1
    for bad in (dict(seed=2**32), dict(seed=-1), dict(my_digits=-0.1), dict(my_digits=0.95)):
        with pytest.raises(UserError, match="must be"):
            validate(TrainConfig(**bad))


def test_a_run_is_named_by_its_optimizer_and_layers():
    assert TrainConfig(hidden=[64, 32], optimizer="sgd").display_name() == "sgd 784-64-32-10"
    assert TrainConfig(model="cnn", channels=[8, 16], hidden=[32]).display_name() == "adam cnn 8-16|32"
    deep = TrainConfig(model="cnn", channels=[8, 16], hidden=[32], kernel=3, convs=2)
    assert deep.display_name() == "adam cnn 8-16 (2x 3x3)|32"
    assert TrainConfig(name="mine").display_name() == "mine"


def test_changed_settings_and_the_address_of_a_config():
    from digitlab.learn.config import changed, from_query, to_argv, to_query

    config = TrainConfig(lr=0.01, epochs=3, hidden=[64], optimizer="sgd", shuffle=False, dropout=0.0)
    assert changed(config) == {"hidden": [64], "optimizer": "sgd", "epochs": 3, "lr": 0.01, "shuffle": False}
    assert changed(TrainConfig(lr=1e-4, batch_size=32)) == {"batch_size": 32, "lr": 1e-4}  # below the defaults too
    assert to_query(config) == {"hidden": "64", "optimizer": "sgd", "epochs": "3", "lr": "0.01", "shuffle": "false"}
    assert to_argv(config) == ["--hidden", "64", "--optimizer", "sgd", "--epochs", "3", "--lr", "0.01", "--no-shuffle"]
    assert from_query(to_query(config)) == config
    parsed = from_query({"lr": "0.0005", "epochs": "12", "weight_decay": "1e-05"})
    assert (parsed.lr, parsed.epochs, parsed.weight_decay) == (0.0005, 12, 1e-05) and isinstance(parsed.epochs, int)
    with pytest.raises(UserError, match="Epochs in the address must be a whole number, got 'x'"):
        from_query({"epochs": "x"})
    with pytest.raises(UserError, match="Learning rate in the address must be a number, got 'x'"):
        from_query({"lr": "x"})


def test_an_address_is_measured_by_its_keys_and_values_together():
    from digitlab.learn.config import MAX_QUERY, from_query

    with pytest.raises(UserError, match="unknown setting"):  # 1,999 characters: read, and refused for its key
        from_query({"k" * 1000: "v" * (MAX_QUERY - 1001)})
    with pytest.raises(UserError, match=f"more than {MAX_QUERY} characters"):
        from_query({"k" * 1000: "v" * (MAX_QUERY - 999)})
    with pytest.raises(UserError, match=f"more than {MAX_QUERY} characters"):
        from_query({"name": "v" * MAX_QUERY})


# Shares and rates a person types, and what they may be: (setting, lowest allowed, a value just under it, highest
# allowed or None where the top is open, a value just over it).
SHARES = [("dropout", 0.0, -0.01, None, 1.0), ("label_smoothing", 0.0, -0.01, None, 1.0),
          ("thickness", 0.0, -0.01, 1.0, 1.01), ("fonts", 0.0, -0.01, 0.5, 0.51), ("my_digits", 0.0, -0.01, 0.9, 0.91),
          ("distill", 0.0, -0.01, 1.0, 1.01), ("momentum", 0.0, -0.01, None, 1.0), ("scale", 0.0, -0.01, 0.9, 0.91)]


@pytest.mark.parametrize("name, low, under, high, over", SHARES)
def test_shares_are_bounded_where_they_mean_something(name, low, under, high, over):
    assert getattr(validate(TrainConfig(**{name: low})), name) == low
    if high is not None:
        assert getattr(validate(TrainConfig(**{name: high})), name) == high
    for bad in (under, over):
        with pytest.raises(UserError, match=f"{spec(name).label} must be"):
            validate(TrainConfig(**{name: bad}))


def test_what_trains_is_what_validation_leaves():
    assert TrainConfig().train_size() == 48_000 and TrainConfig(val_size=5_000).train_size() == 55_000
