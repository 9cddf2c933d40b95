// Hash routing (/#/jobs, /#/jobs/ID/clips): the server only ever serves /, so no path of the
// studio can collide with the API's, and a reload lands on the same page.

import { useEffect, useState } from "react";

export type Route =
  | { page: "jobs" }
  | { page: "clips"; jobId: string }
  | { page: "style"; clipId: string }
  | { page: "sources" }
  | { page: "edit"; sourceId: string }
  | { page: "search" }
  | { page: "generated" }
  | { page: "members" }
  | { page: "streams"; streamId?: string }
  | { page: "publish" }
  | { page: "brand" }
  | { page: "library" }
  | { page: "signin" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "jobs" && parts[1] && parts[2] === "clips") return { page: "clips", jobId: decodeURIComponent(parts[1]) };
  if (parts[0] === "clips" && parts[1] && parts[2] === "style") return { page: "style", clipId: decodeURIComponent(parts[1]) };
  if (parts[0] === "search" || parts[0] === "generated" || parts[0] === "members") return { page: parts[0] };
  if (parts[0] === "signin") return { page: "signin" };
  if (parts[0] === "sources" && parts[1] && parts[2] === "edit") return { page: "edit", sourceId: decodeURIComponent(parts[1]) };
  if (parts[0] === "sources") return { page: "sources" };
  if (parts[0] === "streams") return parts[1] ? { page: "streams", streamId: decodeURIComponent(parts[1]) } : { page: "streams" };
  if (parts[0] === "publish") return { page: "publish" };
  if (parts[0] === "brand") return { page: "brand" };
  if (parts[0] === "library") return { page: "library" };
  return { page: "jobs" };
}

export function href(route: Route): string {
  switch (route.page) {
    case "clips":
      return `#/jobs/${encodeURIComponent(route.jobId)}/clips`;
    case "style":
      return `#/clips/${encodeURIComponent(route.clipId)}/style`;
    case "search":
    case "generated":
    case "members":
      return `#/${route.page}`;
    case "signin":
      return "#/signin";
    case "sources":
      return "#/sources";
    case "edit":
      return `#/sources/${encodeURIComponent(route.sourceId)}/edit`;
    case "streams":
      return route.streamId ? `#/streams/${encodeURIComponent(route.streamId)}` : "#/streams";
    case "publish":
      return "#/publish";
    case "brand":
      return "#/brand";
    case "library":
      return "#/library";
    default:
      return "#/jobs";
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
