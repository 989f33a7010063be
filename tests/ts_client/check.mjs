// Drive the official Octopus TypeScript client (@octopusdeploy/api-client) against an Octopus instance
// (real, or the octowiz simulator) and print ONE JSON object describing what it saw.
//
// Usage: node check.mjs [instanceURL] [apiKey] [spaceName] [workDir]
//   or env OCTOPUS_URL, OCTOPUS_API_KEY, OCTOPUS_SPACE, OCTOWIZ_TS_WORKDIR.
//   OCTOWIZ_TS_PACKAGE_VERSION sets the uploaded package's version (default 1.0.<unix seconds>).
// The API key is never printed. Exit code 0 with {"ok": true, ...}; 1 with {"ok": false, "error": ...}.
//
// Only the client's exported API is used. FeedRepository is not exported from the package root in
// the pinned version, so feeds are listed with the exported SpaceScopedBasicRepository built exactly
// as the client's own FeedRepository builds it (same route, same list parameters).

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import octopus from "@octopusdeploy/api-client";

const {
    BasicRepository,
    Client,
    EnvironmentRepository,
    OverwriteMode,
    PackageRepository,
    ProjectRepository,
    SpaceRepository,
    SpaceScopedBasicRepository,
    SpaceServerTaskRepository,
    ZipPackageBuilder,
    spaceScopedRoutePrefix,
    userGetCurrent,
} = octopus;

const argv = process.argv.slice(2);
const instanceURL = argv[0] || process.env.OCTOPUS_URL || "";
const apiKey = argv[1] || process.env.OCTOPUS_API_KEY || "";
const spaceName = argv[2] || process.env.OCTOPUS_SPACE || "Default";
const workDirArg = argv[3] || process.env.OCTOWIZ_TS_WORKDIR || "";
const version = process.env.OCTOWIZ_TS_PACKAGE_VERSION || `1.0.${Math.floor(Date.now() / 1000)}`;
const packageId = "OctowizTsCheck";

function redact(text) {
    let s = String(text);
    if (apiKey) s = s.split(apiKey).join("API-***");
    return s;
}

function fail(error) {
    const message =
        error instanceof Error
            ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}`
            : typeof error === "object"
              ? JSON.stringify(error)
              : String(error);
    const status = error && typeof error === "object" && "StatusCode" in error ? error.StatusCode : undefined;
    process.stdout.write(
        JSON.stringify({ ok: false, error: redact(message), status, requests: requests.map(redact) }) + "\n",
    );
    process.exit(1);
}

const requests = [];
const logger = {
    debug: (m) => process.env.OCTOWIZ_TS_DEBUG && process.stderr.write(redact(`debug: ${m}\n`)),
    info: (m) => process.env.OCTOWIZ_TS_DEBUG && process.stderr.write(redact(`info: ${m}\n`)),
    warn: (m) => process.stderr.write(redact(`warn: ${m}\n`)),
    error: (m, e) => process.stderr.write(redact(`error: ${m}${e ? ` ${e}` : ""}\n`)),
};

async function main() {
    if (!instanceURL) throw new Error("No instance URL given (argv[1] or OCTOPUS_URL).");
    if (!apiKey) throw new Error("No API key given (argv[2] or OCTOPUS_API_KEY).");

    const client = await Client.create({
        instanceURL,
        apiKey,
        userAgentApp: "octowiz-ts-check",
        logging: logger,
    });
    // The client reports each answered request (its request hook is never called in this version).
    const record = (r) => {
        const u = new URL(r.url);
        requests.push(`${r.method} ${u.pathname}${u.search} ${r.statusCode}`);
    };
    client.subscribeToResponses("octowiz-check", record);
    client.subscribeToErrors("octowiz-check", record);
    const server = await client.getServerInformation();
    const me = await userGetCurrent(client);

    // Spaces
    const spaceRepo = new SpaceRepository(client);
    const spaces = await spaceRepo.list({ take: BasicRepository.TakeAll });
    const space = spaces.Items.find((s) => s.Name === spaceName);
    if (!space) throw new Error(`The space '${spaceName}' is not in the space list.`);
    const spaceById = await spaceRepo.get(space.Id);
    const byPartialName = await spaceRepo.list({ partialName: spaceName });

    // Projects, environments, feeds of the space
    const projectRepo = new ProjectRepository(client, spaceName);
    const projects = await projectRepo.list({ take: BasicRepository.TakeAll });
    let projectLookup = null;
    if (projects.Items.length > 0) {
        const first = projects.Items[0];
        const found = await projectRepo.list({ partialName: first.Name });
        const one = await projectRepo.get(first.Id);
        projectLookup = {
            name: first.Name,
            foundByPartialName: found.Items.some((p) => p.Id === first.Id),
            getById: one.Id === first.Id,
        };
    }
    const environmentRepo = new EnvironmentRepository(client, spaceName);
    const environments = await environmentRepo.list({ take: BasicRepository.TakeAll });
    const feedRepo = octopus.FeedRepository
        ? new octopus.FeedRepository(client, spaceName)
        : new SpaceScopedBasicRepository(
              client,
              spaceName,
              `${spaceScopedRoutePrefix}/feeds`,
              "skip,take,ids,partialName,feedType",
          );
    const feeds = await feedRepo.list({ take: BasicRepository.TakeAll });
    const builtInFeeds = await feedRepo.list({ feedType: "BuiltIn" });

    // Package upload: build a small zip with the client's own ZipPackageBuilder, push it, list it.
    const ownWorkDir = !workDirArg;
    const workDir = workDirArg || mkdtempSync(join(tmpdir(), "octowiz-ts-"));
    let pkg;
    try {
        const inputDir = join(workDir, "input");
        if (!existsSync(inputDir)) mkdirSync(inputDir, { recursive: true });
        writeFileSync(join(inputDir, "README.txt"), `octowiz TypeScript client check ${version}\n`);
        writeFileSync(join(inputDir, "app.js"), `console.log("hello from ${packageId} ${version}");\n`);
        const fileName = await new ZipPackageBuilder().pack({
            packageId,
            version,
            basePath: inputDir,
            inputFilePatterns: ["**/*"],
            outputFolder: workDir,
            overwrite: true,
            logger,
        });
        const filePath = join(workDir, fileName);
        const bytes = readFileSync(filePath);
        const packageRepo = new PackageRepository(client, spaceName);
        await packageRepo.push([filePath], OverwriteMode.FailIfExists);
        // Pushing the same version again with IgnoreIfExists must be accepted.
        await packageRepo.push([filePath], OverwriteMode.IgnoreIfExists);
        const listed = await packageRepo.list({ filter: packageId, take: BasicRepository.TakeAll });
        const versions = await packageRepo.list({ nuGetPackageId: packageId, take: BasicRepository.TakeAll });
        const mine = listed.Items.find((p) => p.PackageId === packageId && p.Version === version);
        if (!mine) throw new Error(`The uploaded package ${fileName} is not in the package list.`);
        const got = await packageRepo.get(mine.Id);
        pkg = {
            fileName,
            packageId,
            version,
            id: mine.Id,
            sizeBytes: bytes.length,
            sha1: createHash("sha1").update(bytes).digest("hex"),
            listedSizeBytes: mine.PackageSizeBytes,
            listedHash: mine.Hash,
            getById: got.Id === mine.Id,
            listedWithFilter: listed.TotalResults,
            versionsOfPackage: versions.TotalResults,
        };
    } finally {
        if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
    }

    // Server tasks of the space: list (through the client's request API, as the repositories do),
    // then one by id, by ids, its details and raw log.
    const taskRepo = new SpaceServerTaskRepository(client, spaceName);
    const taskPage = await client.request(`${spaceScopedRoutePrefix}/tasks{?skip,take}`, {
        spaceName,
        skip: 0,
        take: 30,
    });
    let taskOne = null;
    if (taskPage.Items.length > 0) {
        const first = taskPage.Items[0];
        const byId = await taskRepo.getById(first.Id);
        const byIds = await taskRepo.getByIds(taskPage.Items.slice(0, 3).map((t) => t.Id));
        const details = await taskRepo.getDetails(first.Id);
        const raw = await taskRepo.getRaw(first.Id);
        taskOne = {
            id: byId.Id,
            name: byId.Name,
            state: byId.State,
            isCompleted: byId.IsCompleted,
            byIdsCount: byIds.length,
            detailsTaskId: details.Task ? details.Task.Id : null,
            activityLogs: Array.isArray(details.ActivityLogs) ? details.ActivityLogs.length : null,
            rawLength: typeof raw === "string" ? raw.length : JSON.stringify(raw).length,
        };
    }

    return {
        ok: true,
        server: { version: server.version, installationId: server.installationId },
        user: me.Username,
        spaces: {
            total: spaces.TotalResults,
            names: spaces.Items.map((s) => s.Name),
            resolved: { id: space.Id, name: spaceById.Name },
            partialNameMatches: byPartialName.Items.map((s) => s.Name),
        },
        space: spaceName,
        projects: { total: projects.TotalResults, names: projects.Items.map((p) => p.Name), lookup: projectLookup },
        environments: { total: environments.TotalResults, names: environments.Items.map((e) => e.Name) },
        feeds: {
            total: feeds.TotalResults,
            names: feeds.Items.map((f) => f.Name),
            types: feeds.Items.map((f) => f.FeedType),
            builtIn: builtInFeeds.Items.map((f) => f.Id),
        },
        package: pkg,
        tasks: {
            total: taskPage.TotalResults,
            listed: taskPage.Items.length,
            ids: taskPage.Items.map((t) => t.Id),
            one: taskOne,
        },
        requests,
    };
}

main().then(
    (result) => {
        process.stdout.write(redact(JSON.stringify(result)) + "\n");
        process.exit(0);
    },
    (error) => fail(error),
);
