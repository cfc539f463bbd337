# docbatch image: API and worker (CPU: TensorFlow.js with the wasm backend).
# Build: docker build -t docbatch .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The workspace packages' manifests first (npm ci links them), their sources with the server's.
COPY packages/sdk/package.json ./packages/sdk/
COPY packages/cli/package.json ./packages/cli/
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY packages ./packages
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# node_modules/@docbatch/{sdk,cli} link here (the SDK and the packaged CLI the server builds on).
COPY --from=build /app/packages ./packages
COPY package.json ./
COPY prisma ./prisma
COPY models ./models
COPY resources ./resources
COPY openapi ./openapi
COPY bin ./bin
USER node
EXPOSE 3000
# `all` runs migrations, the API and one worker; use `api` or `worker` to scale out.
ENTRYPOINT ["node", "dist/main.js"]
CMD ["all"]
