#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of the .npy / .npz fuzz targets: small valid files as numpy writes them
and edge cases the readers must refuse cleanly.

Usage: tools/make_fuzz_corpus.py [tests/fuzz/corpus]

Writes <dir>/npy/*.npy and <dir>/npz/*.npz (about 30 files of at most a few hundred bytes; they
are committed, rerun only to change them). The output is byte-for-byte reproducible: the zip
timestamps are fixed. The archives are laid out as np.savez lays them out (stored members,
ZIP64 extra field in each local header) by a small writer here, which also makes the variants
other writers produce (data descriptors, ZIP64 end records, comments).
"""
import io
import os
import struct
import sys
import zipfile
import zlib

import numpy as np


def npy(array, version=None):
    out = io.BytesIO()
    np.lib.format.write_array(out, np.asanyarray(array), version=version, allow_pickle=False)
    return out.getvalue()


def npy_raw(header, data=b"", version=(1, 0)):
    """A .npy file with a hand-written header dict, padded as numpy pads it."""
    prefix = 10 if version[0] == 1 else 12
    header = header.encode("latin1")
    header += b" " * ((64 - (prefix + len(header) + 1) % 64) % 64) + b"\n"
    length = struct.pack("<H" if version[0] == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header + data


def zip_bytes(members, comment=b"", zip64_end=False, data_descriptor=False, central_zip64=False):
    """members: (name, data) or (name, data, method). Data is stored as given."""
    out = bytearray()
    entries = []
    for member in members:
        name, data = member[0].encode(), member[1]
        method = member[2] if len(member) > 2 else 0
        crc = zlib.crc32(data)
        flags = 8 if data_descriptor else 0
        offset = len(out)
        local_sizes = (0, 0, 0) if data_descriptor else (crc, len(data), len(data))
        extra = struct.pack("<HHQQ", 1, 16, *(local_sizes[1:]))  # numpy: ZIP64 extra, always
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, flags, method, 0, 0x21, *local_sizes,
                           len(name), len(extra)) + name + extra + data
        if data_descriptor:
            out += struct.pack("<IIQQ", 0x08074B50, crc, len(data), len(data))
        entries.append((name, crc, len(data), offset, flags, method))
    central = len(out)
    for name, crc, size, offset, flags, method in entries:
        if central_zip64:
            extra = struct.pack("<HHQQQ", 1, 24, size, size, offset)
            size32 = offset32 = 0xFFFFFFFF
        else:
            extra, size32, offset32 = b"", size, offset
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45, flags, method, 0, 0x21,
                           crc, size32, size32, len(name), len(extra), 0, 0, 0, 0,
                           offset32) + name + extra
    central_size = len(out) - central
    count = len(entries)
    if zip64_end:
        record = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, count, count,
                           central_size, central)
        out += struct.pack("<IIQI", 0x07064B50, 0, record, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(comment)) + comment
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, central_size, central,
                           len(comment)) + comment
    return bytes(out)


def deflated_zip(members):
    """What np.savez_compressed writes (refused by tsq), with a fixed timestamp."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def npy_files():
    f4 = np.array([[0.5, -1.0], [2.0, 8.25]], dtype="<f4")
    return {
        "f4_2x2.npy": npy(f4),
        "f4_2x2_v2.npy": npy(f4, version=(2, 0)),
        "f4_2x2_v3.npy": npy(f4, version=(3, 0)),
        "f8_3.npy": npy(np.array([1e300, -0.0, np.nan], dtype="<f8")),
        # Half: widened to float32 as it is read (normal, subnormal, -0, inf, NaN).
        "f2_2x3.npy": npy(np.array([[1.0, -2.5, 6e-8], [-0.0, np.inf, np.nan]], dtype="<f2")),
        "i1_scalar.npy": npy(np.array(-7, dtype="i1")),
        "u1_0x3.npy": npy(np.zeros((0, 3), dtype="u1")),
        "i2_2x1x2.npy": npy(np.array([[[1, -2]], [[32767, -32768]]], dtype="<i2")),
        "i4_5.npy": npy(np.array([0, 1, -1, 2**31 - 1, -(2**31)], dtype="<i4")),
        "i1_lt_descr.npy": npy_raw("{'descr': '<i1', 'fortran_order': False, 'shape': (2,), }",
                                      b"\x80\x7f"),
        "header_reordered.npy": npy_raw('{"shape":(1L,),"fortran_order":False,"descr":"<f4"}',
                                        b"\x00\x00\x80\x3f"),
        # Refused: each a different error path.
        "err_big_endian.npy": npy(np.array([1.0], dtype=">f4")),
        "err_fortran.npy": npy(np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3))),
        "err_bool.npy": npy(np.array([True, False])),
        "err_structured.npy": npy(np.zeros(1, dtype=[("a", "<f4"), ("b", "i1")])),
        "err_truncated.npy": npy(f4)[:-3],
        "err_trailing.npy": npy(f4) + b"\x00",
        "err_shape_overflow.npy": npy_raw(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
        "err_version.npy": npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                                   b"\x00" * 4, version=(4, 0)),
    }


def npz_files():
    weights = npy(np.array([[0.5, -1.0], [2.0, 8.25]], dtype="<f4"))
    labels = npy(np.array([7, 8, 9], dtype="u1"))
    two = [("weights.npy", weights), ("labels.npy", labels)]
    return {
        "two.npz": zip_bytes(two),
        "empty.npz": zip_bytes([]),
        "scalar.npz": zip_bytes([("arr_0.npy", npy(np.array(3.5, dtype="<f8")))]),
        "comment.npz": zip_bytes(two, comment=b"saved by tools/make_fuzz_corpus.py"),
        # Python's zipfile takes the signature in the comment for the record; tsq must not.
        "comment_with_signature.npz": zip_bytes(two, comment=b"PK\x05\x06" + b"x" * 30),
        "zip64_end.npz": zip_bytes(two, zip64_end=True),
        "data_descriptor.npz": zip_bytes(two, data_descriptor=True),
        "central_zip64.npz": zip_bytes(two, central_zip64=True),
        # Refused.
        "err_compressed.npz": deflated_zip(two),
        "err_duplicate.npz": zip_bytes(two + [("weights.npy", labels)]),
        "err_not_npy.npz": zip_bytes(two + [("readme.txt", b"hi")]),
        "err_bad_member.npz": zip_bytes([("big.npy", npy(np.array([1.0], dtype=">f4")))]),
    }


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus"))
    for folder, files in (("npy", npy_files()), ("npz", npz_files())):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(root, folder, name), "wb") as stream:
                stream.write(data)
        print(f"{os.path.join(root, folder)}: {len(files)} files, "
              f"{sum(len(d) for d in files.values())} bytes")


if __name__ == "__main__":
    main()
