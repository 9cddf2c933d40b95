// The caller's role in the chosen workspace, read once by the frame (GET /api/workspaces gives
// it per workspace) and offered to every page: a viewer is shown no control it cannot use,
// rather than buttons that answer 403.

import { createContext, useContext } from "react";

export const RoleContext = createContext<string | undefined>(undefined);

const RANK: Record<string, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };

/** Whether the role is at least `least` (the server's order: viewer < editor < admin < owner). */
export function atLeast(role: string | undefined, least: "editor" | "admin" | "owner"): boolean {
  return role !== undefined && (RANK[role] ?? -1) >= RANK[least];
}

/** Editors and above change jobs and clips; a viewer (or a role not loaded yet) does not. */
export function useCanEdit(): boolean {
  return atLeast(useContext(RoleContext), "editor");
}

export function useIsAdmin(): boolean {
  return atLeast(useContext(RoleContext), "admin");
}
