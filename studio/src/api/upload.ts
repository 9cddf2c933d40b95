// An upload the way the API asks for it: presign, POST the file straight to the bucket with
// the signed fields (XMLHttpRequest, for its upload progress events), then confirm.

import { ApiError, type ApiClient } from "./client";
import type { Confirmed, Presigned } from "./types";

export async function uploadVideo(
  client: ApiClient,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<Confirmed> {
  const pre = await client.post<Presigned>("/api/upload/presign", {
    filename: file.name,
    content_type: file.type || "video/mp4",
    size: file.size,
  });
  const form = new FormData();
  for (const [k, v] of Object.entries(pre.fields)) form.append(k, v);
  form.append("file", file); // the bucket reads the fields before the file: it goes last
  await new Promise<void>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(pre.method || "POST", pre.url);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText)?.[1] ?? `HTTP_${xhr.status}`;
        reject(new ApiError(xhr.status, `UPLOAD_${code.toUpperCase()}`, "the storage refused the upload"));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "UPLOAD_NETWORK", "the upload could not reach the storage"));
    xhr.send(form);
  });
  return client.post<Confirmed>("/api/upload/confirm", { key: pre.key });
}
