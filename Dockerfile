# The demo's image (docker-compose.yml): graykit's sources and demo, run through ts-node, so no build step.
FROM node:24
WORKDIR /app
# Dependencies first: editing the sources then reuses this layer instead of rebuilding the zookeeper native addon
# (node:24, not -slim, because that build needs python3, make and g++). --ignore-scripts skips graykit's own
# `prepare` (a build of dist/ the demo does not use, from sources not copied yet); the rebuild builds the addon.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts && npm rebuild zookeeper
COPY tsconfig.json ./
COPY src ./src
COPY demo ./demo
CMD ["node", "-r", "ts-node/register/transpile-only", "demo/provider.ts"]
