#!/usr/bin/env python3
"""Writes the seed corpus, tests/fuzz/corpus/<target>/, a few tiny valid and edge-case
inputs per fuzz target. Pure standard library; rerun after changing it (the files are
committed so scripts/fuzz.sh needs no Python)."""
import gzip
import io
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def npy(descr: str, shape: tuple, body: bytes, version: int = 1, fortran: bool = False) -> bytes:
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    pre = 10 if version == 1 else 12
    d += " " * ((64 - (pre + len(d) + 1) % 64) % 64) + "\n"
    n = struct.pack("<H", len(d)) if version == 1 else struct.pack("<I", len(d))
    return b"\x93NUMPY" + bytes([version, 0]) + n + d.encode() + body


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def npz(members: dict, deflate: bool = True) -> bytes:
    """A zip of .npy members as numpy.savez writes it (fixed timestamps: reproducible)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            z.writestr(info, data)
    return out.getvalue()


def csr(fmt: bytes = b"csr", indptr=(0, 1, 2, 2), indices=(1, 0)) -> dict:
    n = len(indices)
    return {
        "indices.npy": npy("<i4", (n,), struct.pack("<%di" % n, *indices)),
        "indptr.npy": npy("<i4", (len(indptr),), struct.pack("<%di" % len(indptr), *indptr)),
        "format.npy": npy("|S%d" % len(fmt), (), fmt),
        "shape.npy": npy("<i8", (2,), struct.pack("<2q", len(indptr) - 1, len(indptr) - 1)),
        "data.npy": npy("<f8", (n,), struct.pack("<%dd" % n, *([1.0] * n))),
    }


def checkpoint(sections: list) -> bytes:
    body = b"".join(tag + struct.pack("<Q", len(p)) + p for tag, p in sections)
    total = 24 + len(body) + 4
    img = b"MIXGCNCK" + struct.pack("<IIQ", 1, 0, total) + body
    return img + struct.pack("<I", crc32c(img))


def s(x: bytes) -> bytes:
    return struct.pack("<I", len(x)) + x


def arry(name: bytes, shape: tuple, values: list) -> bytes:
    return (s(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
            + b"".join(struct.pack("<d", v) for v in values))


CORPUS = {
    "edge_list_text": {
        "triangle.tsv": b"0\t1\n1\t2\n2\t0\n",
        "comments_crlf.tsv": b"# header\r\n0 1 # first\r\n\r\n  3\t\t2\r\n",
        "plus_and_big.tsv": b"+5 2147483646\n7 0\n",
        "bad_column.tsv": b"0 1 2\n",
        "negative.tsv": b"-1 4\n",
        "only_comment.tsv": b"# nothing\n",
        "snap.txt": b"# Directed graph\n# FromNodeId\tToNodeId\n30\t1000\n1000\t7\n",
        "edges_csv.csv": b"0,1\n1, 2\n,3\n",
        "features_csv.csv": b"0.5,-1e3,2\n1,2,3\n",
        "triangle.tsv.gz": gz(b"0\t1\n1\t2\n2\t0\n"),
        "multi_member.tsv.gz": gz(b"0 1\n1 ") + gz(b"2\n"),
        "truncated.tsv.gz": gz(b"0\t1\n" * 20)[:-9],
    },
    "npy": {
        "features_f4.npy": npy("<f4", (2, 3), struct.pack("<6f", 1, 0, 2, 0, 3, 0.5)),
        "features_f8_v2.npy": npy("<f8", (1, 2), struct.pack("<2d", 1.5, -2), version=2),
        "edges_i8.npy": npy("<i8", (2, 2), struct.pack("<4q", 0, 1, 1, 2)),
        "labels_i4.npy": npy("<i4", (3,), struct.pack("<3i", 0, -1, 2)),
        "split_i1.npy": npy("|i1", (4,), bytes([0, 1, 2, 3])),
        "empty_edges.npy": npy("<i4", (0, 2), b""),
        "nan.npy": npy("<f4", (1, 1), struct.pack("<f", float("nan"))),
        "huge_shape.npy": npy("<f4", (1 << 40, 1 << 40), b""),
        "fortran.npy": npy("<f8", (1, 2), struct.pack("<2d", 1, 2), fortran=True),
        "truncated.npy": npy("<i4", (3,), struct.pack("<2i", 1, 2)),
        "big_endian_fortran.npy": npy(">i8", (2, 2), struct.pack(">4q", 0, 1, 1, 2), fortran=True),
        "csr_deflated.npz": npz(csr()),
        "csr_stored.npz": npz(csr(), deflate=False),
        "csc_unicode.npz": npz({**csr(), "format.npy": npy("<U3", (), "csc".encode("utf-32-le"))}),
        "coo.npz": npz({"row.npy": npy("<i8", (1,), struct.pack("<q", 0)),
                        "col.npy": npy("<i8", (1,), struct.pack("<q", 1)),
                        "data.npy": npy("|b1", (1,), b"\x01"),
                        "shape.npy": npy("<i8", (2,), struct.pack("<2q", 2, 2)),
                        "format.npy": npy("|S3", (), b"coo")}),
        "bad_indptr.npz": npz(csr(indptr=(0, 2, 1, 2)), deflate=False),
    },
    "matrix_market": {
        "pattern.mtx": b"%%MatrixMarket matrix coordinate pattern general\n% c\n3 3 2\n1 2\n3 1\n",
        "real_sym.mtx": b"%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n1 1 0.5\n2 1 -1e3\n",
        "integer_dup.mtx": b"%%MatrixMarket matrix coordinate integer general\n2 3 3\n1 1 2\n1 1 3\n2 3 -4\n",
        "eight_nodes.mtx": b"%%MatrixMarket matrix coordinate pattern general\n8 8 1\n8 8\n",
        "short.mtx": b"%%MatrixMarket matrix coordinate real general\n2 2 5\n1 1 1\n",
        "huge_nnz.mtx": b"%%MatrixMarket matrix coordinate pattern general\n4 4 1000000000000\n1 1\n",
        "array.mtx": b"%%MatrixMarket matrix array real general\n1 1\n1\n",
    },
    "labels": {
        "labels.txt": b"0\n1\n-1\n2\n",
        "split.txt": b"train\nval\ntest\nnone\n",
        "comments.txt": b"# labels\n+3 # x\r\n\n",
        "below.txt": b"-2\n",
        "big.txt": b"2147483648\n",
    },
    "partition_file": {
        "eight.part": b"# mixgcn partition: 8 nodes, 4 parts\n0\n1\n2\n3\n0\n1\n2\n3\n",
        "blanks.part": b"\n  0\t\n1\r\n2\n3\n0\n1\n2\n3",
        "short.part": b"0\n1\n",
        "out_of_range.part": b"0\n4\n",
        "junk.part": b"0x1\n",
    },
    "checkpoint": {
        "minimal.ck": checkpoint([(b"HEAD", struct.pack("<Q", 3) + s(b"float32"))]),
        "full.ck": checkpoint([
            (b"HEAD", struct.pack("<Q", 7) + s(b"float64")),
            (b"META", struct.pack("<I", 1) + s(b"strategy") + s(b"single")),
            (b"ARRY", arry(b"w0", (2, 2), [1, 2, 3, 4])),
            (b"ARRY", arry(b"scalar", (), [0.5])),
        ]),
        # Found by fuzz_checkpoint: an array with a zero dimension makes decode_checkpoint
        # call memcpy(nullptr, p, 0) (UBSan: null pointer passed as argument 1).
        "repro-empty-array.ck": checkpoint([
            (b"HEAD", struct.pack("<Q", 1) + s(b"float32")),
            (b"ARRY", arry(b"b0", (0,), [])),
        ]),
        "bad_crc.ck": checkpoint([(b"HEAD", struct.pack("<Q", 0) + s(b"float32"))])[:-1] + b"\0",
        "truncated.ck": checkpoint([(b"HEAD", struct.pack("<Q", 0) + s(b"float32"))])[:30],
    },
    "cli": {
        "flags": b"--epochs\x0010\x00--lr=0.5\x00--json",
        "choice": b"--backend=cuda\x00--seed\x0018446744073709551615",
        "bad": b"--epochs=ten\x00--lr\x00nan",
        "missing_value": b"--data",
        "positional": b"train\x00--help=1",
    },
}


def main() -> None:
    root = os.path.join(HERE, "corpus")
    for target, files in CORPUS.items():
        d = os.path.join(root, target)
        # Keep reproducers saved by hand (crash-*, oom-*, repro-*) across regenerations.
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f not in files and not f.startswith(("crash-", "oom-", "leak-", "timeout-", "repro-")):
                    os.remove(os.path.join(d, f))
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
