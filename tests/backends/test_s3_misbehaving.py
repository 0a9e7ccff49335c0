"""S3 endpoints that answer wrongly: a proxy in front of SeaweedFS that lies, and small fake
servers on loopback (tests/support/loopback_s3.py) for what SeaweedFS never does.

Each case ends in a translated error naming the remote, never in a deleted good copy, a hang or
memory growing with what the server sends.
"""

from __future__ import annotations

import pytest

from backends import BadAnswer, UnconfirmedWrite, open_backend
from tests.support.loopback_s3 import Lies, forwarding
from tests.support.seaweed import SeaweedServer


def test_a_size_mismatch_after_a_write_deletes_nothing(s3_env: SeaweedServer, bucket: str) -> None:
    """Item 7: the size read back differs (a stale read, another writer): the object stays."""
    client = s3_env.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="arkeep/units/ab/good.zip", Body=b"the good copy")
    lies = Lies(head_size=lambda key, real: real + 7 if key.startswith("arkeep/units/") else None)
    with forwarding(s3_env.endpoint, lies) as proxy:
        backend = open_backend("cloud", f"s3://{bucket}/arkeep", endpoint_url=proxy)
        with pytest.raises(UnconfirmedWrite) as caught:
            with backend.open_write("units/ab/good.zip") as out:
                out.write(b"the new copy!")
    text = str(caught.value)
    assert "remote 'cloud' could not confirm a write ('units/ab/good.zip')" in text
    assert "sent 13 bytes, the store reports 20" in text and "left in place" in text
    assert any(seen.startswith("HEAD arkeep/units/ab/good.zip") for seen in lies.seen)
    stored = client.get_object(Bucket=bucket, Key="arkeep/units/ab/good.zip")["Body"].read()
    assert stored == b"the new copy!"
