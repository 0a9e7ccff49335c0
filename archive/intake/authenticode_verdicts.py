"""What an Authenticode check can find, and how a file that may carry a signature starts.

Apart from authenticode.py so that `add` can tell whether a file needs the check, and judge a
verdict, without loading the ASN.1 reader (asn1crypto) for every file it archives."""
from __future__ import annotations

OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")

# What a check found, in order of how bad it is for the file.
VALID = "valid"                    # the file is the bytes the signer signed
UNSIGNED = "unsigned"              # no signature: a fact, not an error
MISMATCH = "digest-mismatch"       # the bytes changed after signing, or the signature was moved
BAD_SIGNATURE = "bad-signature"    # the signature does not verify with the signer's certificate
UNREADABLE = "unreadable"          # a signature is there but cannot be read or uses what we lack
VERDICTS = (VALID, UNSIGNED, MISMATCH, BAD_SIGNATURE, UNREADABLE)
