#!/usr/bin/env sh
# Register data-engineer-mcp with Claude Code (pick one of the two).
#
# Both use --scope project, which writes .mcp.json in the project root. Claude Code expands
# ${VAR} in that file when it starts the server, so the single quotes below keep the literal
# '${DATABASE_URL}' in the file: the secret stays in your shell environment, not in git.
# Install the binary first (cargo install --path .) or give its absolute path.
# The server name goes before --env: that option takes several values and would swallow it.

# 1. One database, URL from the environment (export DATABASE_URL=postgres://... before `claude`).
#    read-only is the default; say --mode read-write only for a database the agent may change.
claude mcp add data-engineer --transport stdio --scope project \
    --env 'DATABASE_URL=${DATABASE_URL}' \
    -- data-engineer-mcp --mode read-only

# 2. Several named databases from a TOML file (see examples/data-engineer.toml); the variables it
#    interpolates are passed through the same way. Don't also set DATABASE_URL for this server:
#    when it is set, the server uses that URL and ignores the file.
claude mcp add data-engineer-config --transport stdio --scope project \
    --env 'MAIN_DATABASE_URL=${MAIN_DATABASE_URL}' \
    --env 'ANALYTICS_PASSWORD=${ANALYTICS_PASSWORD}' \
    -- data-engineer-mcp --config data-engineer.toml

# Check: `claude mcp list`, then `/mcp` inside Claude Code; ask it to run env-check first.
