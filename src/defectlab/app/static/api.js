// JSON calls to the server. The access token (when the server needs one) arrives
// once in the page URL; it is kept in memory for API calls, while images rely on
// the cookie the server set, and it is removed from the address bar so it does
// not end up in screenshots or shared links.

const params = new URLSearchParams(location.search);
const token = params.get("token");
if (token !== null) {
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function call(method, path, body) {
  const headers = {};
  if (token) headers["X-DefectLab-Token"] = token;
  const options = { method, headers, credentials: "same-origin" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new ApiError(0, "cannot reach the labelling server; is `defectlab label` still running?");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail || `${response.status} ${response.statusText}`);
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);
