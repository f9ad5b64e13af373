// A small SCIM 2.0 application for deprov's connector tests: SCIMMY and its
// Express routers over in-memory Maps, behind a bearer token, with a few
// admin endpoints under /_admin that let tests reset state, read what
// reached the target, and make it fail on purpose.
//
// Usage: node server.js PORT [TOKEN]   (PORT 0 picks a free port; the token
// may come from SCIMTARGET_TOKEN instead). Prints "scimtarget ready port=N".
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";
import {randomUUID} from "node:crypto";

const port = Number(process.argv[2] ?? 0);
const token = process.argv[3] ?? process.env.SCIMTARGET_TOKEN;
if (!Number.isInteger(port) || port < 0 || !token) {
    console.error("usage: node server.js PORT [TOKEN] (or SCIMTARGET_TOKEN in the environment)");
    process.exit(2);
}

const users = new Map();
const groups = new Map();
let requests = []; // {method, path, query, timeMs, status}
let failures = {count: 0, status: 503, headers: {}};

const notFound = (id) => new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
const plain = (instance) => JSON.parse(JSON.stringify(instance));
const now = () => new Date().toISOString();

// A user's groups are derived from group memberships, as RFC 7643 says.
function withGroups(user) {
    const memberOf = [...groups.values()]
        .filter(g => (g.members ?? []).some(m => m.value === user.id))
        .map(g => ({value: g.id, display: g.displayName, type: "direct"}));
    return memberOf.length ? {...user, groups: memberOf} : user;
}

// egress returns every match; SCIMMY's ListResponse pages and sorts it.
function egress(store, decorate = (r) => r) {
    return (resource) => {
        if (resource.id) {
            if (!store.has(resource.id)) throw notFound(resource.id);
            return decorate(store.get(resource.id));
        }
        const all = [...store.values()].map(decorate);
        if (!resource.filter) return all;
        // SCIMMY's Filter.match throws on a resource that lacks a filtered
        // complex attribute (members.value on a group without members):
        // match one resource at a time and count a throw as no match.
        return all.filter(r => {
            try { return resource.filter.match([r]).length > 0; } catch { return false; }
        });
    };
}

function ingress(store, unique, check = () => {}, decorate = (r) => r) {
    return (resource, instance) => {
        const value = plain(instance);
        const key = value[unique];
        for (const other of store.values()) {
            if (other.id !== resource.id && String(other[unique]).toLowerCase() === String(key).toLowerCase())
                throw new SCIMMY.Types.Error(409, "uniqueness", `${unique} "${key}" is already taken`);
        }
        check(value);
        if (resource.id) {
            const old = store.get(resource.id);
            if (!old) throw notFound(resource.id);
            const updated = {...value, id: old.id, meta: {...old.meta, lastModified: now()}};
            store.set(old.id, updated);
            return decorate(updated);
        }
        const created = {...value, id: randomUUID(), meta: {created: now(), lastModified: now()}};
        store.set(created.id, created);
        return decorate(created);
    };
}

function degress(store, after = () => {}) {
    return (resource) => {
        if (!store.delete(resource.id)) throw notFound(resource.id);
        after(resource.id);
    };
}

// Members must be existing users; deleting a user removes its memberships.
const checkMembers = (group) => {
    for (const m of group.members ?? []) {
        if (!users.has(m.value))
            throw new SCIMMY.Types.Error(400, "invalidValue", `member "${m.value}" is not a user`);
    }
};
const dropMember = (userID) => {
    for (const g of groups.values()) {
        if (!(g.members ?? []).some(m => m.value === userID)) continue;
        const members = g.members.filter(m => m.value !== userID);
        const {members: _, ...rest} = g;
        groups.set(g.id, members.length ? {...rest, members} : rest);
    }
};

SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress(egress(users, withGroups))
    .ingress(ingress(users, "userName", undefined, withGroups))
    .degress(degress(users, dropMember));
SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress(egress(groups))
    .ingress(ingress(groups, "displayName", checkMembers))
    .degress(degress(groups));

const app = express();
app.disable("x-powered-by");

// Admin endpoints: same bearer token, plain JSON, never logged.
const admin = express.Router();
admin.use(express.json({type: ["application/json", "application/scim+json"]}));
admin.use((req, res, next) => {
    if (req.header("Authorization") !== `Bearer ${token}`) return res.status(401).json({error: "unauthorized"});
    next();
});
admin.post("/reset", (req, res) => {
    users.clear();
    groups.clear();
    requests = [];
    failures = {count: 0, status: 503, headers: {}};
    res.status(204).end();
});
admin.get("/requests", (req, res) => res.json(requests));
admin.post("/fail", (req, res) => {
    const {count = 1, status = 503, headers = {}} = req.body ?? {};
    if (!Number.isInteger(count) || count < 0 || !Number.isInteger(status) || status < 100 || status > 599)
        return res.status(400).json({error: "want {count: N >= 0, status: 100-599, headers: {...}}"});
    failures = {count, status, headers};
    res.status(204).end();
});
app.use("/_admin", admin);

// Log every SCIM request with its final status, then apply injected failures.
app.use("/scim/v2", (req, res, next) => {
    const entry = {method: req.method, path: req.baseUrl + req.path, query: req.url.split("?")[1] ?? "", timeMs: Date.now(), status: 0};
    requests.push(entry);
    res.on("finish", () => { entry.status = res.statusCode; });
    if (failures.count > 0) {
        failures.count--;
        res.set(failures.headers).status(failures.status).type("application/scim+json")
            .send(JSON.stringify({schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(failures.status), detail: "injected failure"}));
        return;
    }
    next();
});

app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) throw new Error("Authorization failed: missing or wrong bearer token");
        return "scimtarget-admin";
    },
}));
// The router's constructor resets SCIMMY's config: set ours afterwards.
SCIMMY.Config.set({patch: true, filter: 200, sort: true, bulk: false, changePassword: false, etag: false});

const server = app.listen(port, "127.0.0.1", () => {
    console.log(`scimtarget ready port=${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
