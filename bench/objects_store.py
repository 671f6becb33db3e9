#!/usr/bin/env python3
"""bench/objects_store.py: put objects into versitygw's posix backend by
writing its files directly (bench/objects.sh; faster than 100k PUTs).

versitygw's posix backend keeps an object as the file <data>/<bucket>/<key>
and its ETag in the extended attribute user.etag (the MD5 of the body in
quotes, as a single-part PUT sets it), its type in user.content-type.  A
file written this way is listed and read like a PUT object (checked by
bench/objects.sh against the listing).

  objects_store.py many DATA BUCKET PREFIX N   N small objects PREFIX<dir>/<n>.txt
  objects_store.py file DATA BUCKET KEY SRC    SRC moved in as KEY
"""
import hashlib
import os
import sys


def set_attrs(path, md5hex):
    os.setxattr(path, "user.etag", ('"%s"' % md5hex).encode())
    os.setxattr(path, "user.content-type", b"application/octet-stream")


def many(data, bucket, prefix, n):
    # 1000 objects per directory, as keys of a date-partitioned log would be
    for i in range(n):
        key = "%s%04d/%07d.txt" % (prefix, i // 1000, i)
        path = os.path.join(data, bucket, key)
        if i % 1000 == 0:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        body = b"object %d\n" % i
        with open(path, "wb") as f:
            f.write(body)
        set_attrs(path, hashlib.md5(body).hexdigest())


def move_file(data, bucket, key, src):
    path = os.path.join(data, bucket, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h = hashlib.md5()
    with open(src, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    os.replace(src, path)
    os.chown(path, os.stat(os.path.join(data, bucket)).st_uid, -1)
    set_attrs(path, h.hexdigest())


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "many":
        many(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 6 and sys.argv[1] == "file":
        move_file(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
