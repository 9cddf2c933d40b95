from datetime import UTC, datetime

import pytest

from clipray.jobs.quota import Limits, Usage, check_quota, check_storage, month_start, next_month

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LIMITS = Limits(concurrent_jobs=2, minutes_per_month=100)


@pytest.mark.parametrize(
    ("usage", "code"),
    [
        pytest.param(Usage(0, 0.0), None, id="empty"),
        pytest.param(Usage(1, 99.0, 1.0), None, id="exactly-at-minutes"),
        pytest.param(Usage(2, 0.0), "QUOTA_CONCURRENT_JOBS", id="concurrent"),
        pytest.param(Usage(1, 99.0, 1.5), "QUOTA_MINUTES", id="incoming-over"),
        pytest.param(Usage(0, 100.5), "QUOTA_MINUTES", id="already-over"),
    ],
)
def test_check_quota(usage, code):
    got = check_quota(usage, LIMITS, NOW)
    assert (got.code if got else None) == code


def test_minutes_retry_after_points_at_next_month():
    got = check_quota(Usage(0, 200.0), LIMITS, NOW)
    assert got is not None
    assert got.retry_after_s == int((datetime(2026, 12, 1, tzinfo=UTC) - NOW).total_seconds()) + 1


def test_month_bounds_wrap_the_year():
    dec = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert month_start(dec) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month(dec) == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("used", "reserved", "incoming", "fits"),
    [
        pytest.param(50, 0, 50, True, id="exactly-full"),
        pytest.param(50, 0, 51, False, id="one-byte-over"),
        pytest.param(20, 30, 50, True, id="reservations-exactly-full"),
        pytest.param(20, 31, 50, False, id="a-reservation-tips-it-over"),
        pytest.param(0, 101, 0, False, id="reservations-alone-over"),
    ],
)  # fmt: skip
def test_the_storage_quota_counts_uploads_in_progress(used, reserved, incoming, fits):
    got = check_storage(used, incoming, 100, reserved)
    assert (got is None) == fits
    if got is not None:
        assert got.code == "QUOTA_STORAGE"
        assert f"{used + reserved + incoming} of 100 bytes" in got.message
        assert ("reserved by uploads in progress" in got.message) == (reserved > 0)
