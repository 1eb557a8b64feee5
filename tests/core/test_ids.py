from roost.core import ids


def test_ids_sort_by_creation_time_and_are_dns_labels() -> None:
    earlier = ids.new_id(now_ms=1_000)
    later = ids.new_id(now_ms=2_000)
    assert earlier < later
    for value in (earlier, later, ids.new_id()):
        assert ids.is_id(value)
        assert value == value.lower() and value.isalnum()


def test_is_id_rejects_other_shapes() -> None:
    assert not ids.is_id("default")
    assert not ids.is_id("A" * ids.ID_LENGTH)
    assert not ids.is_id(ids.new_id() + "0")


def test_ids_do_not_collide() -> None:
    assert len({ids.new_id(now_ms=5) for _ in range(10_000)}) == 10_000
