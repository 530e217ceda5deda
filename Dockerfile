# The demo's image (docker-compose.yml): graykit's sources and demo, run through ts-node, so no build step.
FROM node:20
WORKDIR /app
# Dependencies first: editing the sources then reuses this layer instead of rebuilding the zookeeper native addon
# (node:20, not -slim, because that build needs python3, make and g++).
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY demo ./demo
CMD ["node", "-r", "ts-node/register/transpile-only", "demo/provider.ts"]
