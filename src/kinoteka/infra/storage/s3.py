"""S3 API adapter of the object storage port (SeaweedFS, MinIO, AWS S3) through boto3.

URL: `s3://[access_key:secret_key@]bucket?endpoint=http://host:port&region=us-east-1`. Without
credentials in the URL boto3's own chain applies (AWS_* variables, instance roles). Path-style
addressing, so any endpoint works without wildcard DNS. boto3 is blocking: every call runs in
a worker thread. Streams larger than one part go up as a multipart upload; `adopt` streams a
local file up that way, one part read at a time, and removes the file once it is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import anyio
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from kinoteka.infra.storage.port import (
    DEFAULT_CHUNK,
    Body,
    ObjectNotFound,
    StorageError,
    StoredObject,
    check_key,
)

if TYPE_CHECKING:
    from fastapi import APIRouter
    from mypy_boto3_s3 import S3Client

PART_SIZE = 8 * 1024 * 1024  # S3 parts are at least 5 MiB, except the last one
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    endpoint: str | None
    region: str
    access_key: str | None
    secret_key: str | None

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ValueError("an S3 storage URL is s3://[key:secret@]bucket?endpoint=…")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        return cls(
            bucket=parts.hostname,
            endpoint=query.get("endpoint"),
            region=query.get("region", "us-east-1"),
            access_key=unquote(parts.username) if parts.username else None,
            secret_key=unquote(parts.password) if parts.password else None,
        )


def _is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


class S3Storage:
    def __init__(self, location: S3Location, *, part_size: int = PART_SIZE) -> None:
        self.location = location
        self.bucket = location.bucket
        self.part_size = part_size
        self._client: S3Client = boto3.client(
            "s3",
            endpoint_url=location.endpoint,
            region_name=location.region,
            aws_access_key_id=location.access_key,
            aws_secret_access_key=location.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        return cls(S3Location.parse(url))

    async def _call(self, method: str, **kwargs: Any) -> Any:
        function = getattr(self._client, method)
        return await anyio.to_thread.run_sync(lambda: function(**kwargs))

    async def prepare(self) -> None:
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except ClientError as error:
            if not _is_missing(error):
                raise StorageError(f"bucket {self.bucket}: {error}") from error
            await self._call("create_bucket", Bucket=self.bucket)

    async def put(self, key: str, data: Body, *, content_type: str | None = None) -> StoredObject:
        check_key(key)
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        if isinstance(data, bytes) and len(data) <= self.part_size:
            answer = await self._call("put_object", Bucket=self.bucket, Key=key, Body=data, **extra)
            return StoredObject(key, len(data), str(answer["ETag"]).strip('"'))
        return await self._put_multipart(key, data, extra)

    async def adopt(self, path: Path, key: str, *, content_type: str | None = None) -> StoredObject:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        stored = await self._put_multipart(check_key(key), self._file_parts(path), extra)
        await anyio.Path(path).unlink()
        return stored

    async def _file_parts(self, path: Path) -> AsyncIterator[bytes]:
        async with await anyio.open_file(path, "rb") as file:
            while data := await file.read(self.part_size):
                yield data

    async def _chunks(self, data: Body) -> AsyncIterator[bytes]:
        """Re-cut the input into parts of `part_size` bytes (the last one shorter)."""
        if isinstance(data, bytes):
            for offset in range(0, len(data), self.part_size):
                yield data[offset : offset + self.part_size]
            return
        buffer = bytearray()
        async for chunk in data:
            buffer += chunk
            while len(buffer) >= self.part_size:
                yield bytes(buffer[: self.part_size])
                del buffer[: self.part_size]
        if buffer:
            yield bytes(buffer)

    async def _put_multipart(self, key: str, data: Body, extra: dict[str, Any]) -> StoredObject:
        chunks = self._chunks(data)
        first = await anext(chunks, b"")
        second = await anext(chunks, None)
        if second is None:  # a short stream: one request is enough
            answer = await self._call(
                "put_object", Bucket=self.bucket, Key=key, Body=first, **extra
            )
            return StoredObject(key, len(first), str(answer["ETag"]).strip('"'))
        upload = await self._call("create_multipart_upload", Bucket=self.bucket, Key=key, **extra)
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        size = 0
        try:

            async def send(body: bytes) -> None:
                nonlocal size
                number = len(parts) + 1
                answer = await self._call(
                    "upload_part",
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                size += len(body)

            await send(first)
            await send(second)
            async for chunk in chunks:
                await send(chunk)
            answer = await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._call(
                    "abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise
        return StoredObject(key, size, str(answer["ETag"]).strip('"'), parts=len(parts))

    async def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AsyncIterator[bytes]:
        check_key(key)
        extra: dict[str, Any] = {}
        if start is not None or end is not None:
            extra["Range"] = f"bytes={start or 0}-{'' if end is None else end}"
        try:
            answer = await self._call("get_object", Bucket=self.bucket, Key=key, **extra)
        except ClientError as error:
            if _is_missing(error):
                raise ObjectNotFound(key) from None
            raise StorageError(f"get {key}: {error}") from error
        body = answer["Body"]
        try:
            while chunk := await anyio.to_thread.run_sync(body.read, DEFAULT_CHUNK):
                yield chunk
        finally:
            body.close()

    async def _head(self, key: str) -> dict[str, Any] | None:
        check_key(key)
        try:
            answer: dict[str, Any] = await self._call("head_object", Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                return None
            raise StorageError(f"head {key}: {error}") from error
        return answer

    async def exists(self, key: str) -> bool:
        return await self._head(key) is not None

    async def size(self, key: str) -> int:
        head = await self._head(key)
        if head is None:
            raise ObjectNotFound(key)
        return int(head["ContentLength"])

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._call("delete_object", Bucket=self.bucket, Key=key)

    async def list_keys(self, prefix: str) -> AsyncIterator[str]:
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            answer = await self._call("list_objects_v2", Bucket=self.bucket, Prefix=prefix, **extra)
            for item in answer.get("Contents", []):
                yield item["Key"]
            if not answer.get("IsTruncated"):
                return
            token = answer.get("NextContinuationToken")

    async def presigned_url(self, key: str, *, expires_in: int = 3600) -> str:
        check_key(key)
        url: str = await self._call(
            "generate_presigned_url",
            ClientMethod="get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=expires_in,
        )
        return url

    async def ping(self) -> None:
        await self._call("head_bucket", Bucket=self.bucket)

    async def close(self) -> None:
        self._client.close()

    def router(self) -> APIRouter | None:
        """None: presigned URLs point at the S3 endpoint itself."""
        return None
