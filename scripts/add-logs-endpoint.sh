#!/usr/bin/env bash
# Adds to the openapi.yaml given as $1 the endpoint of the README's "Adding an endpoint":
# POST /agents/deployments/logs/read (operation readAgentDeploymentLogs), its request
# ReadAgentDeploymentLogsRequest {deploymentId} and its response AgentDeploymentLogsResponse
# {logs, success, errors}, as a maintainer would: nothing else changes. Used by .ci/run.
set -euo pipefail
spec=$1
grep -qx 'paths:' "$spec" && grep -qx '  schemas:' "$spec" || {
  echo "$spec: no 'paths:' or '  schemas:' line to add the endpoint under" >&2
  exit 1
}
path=$(cat <<'YAML'
  /agents/deployments/logs/read:
    post:
      tags:
        - Deployments
      summary: Read the logs of an agent deployment.
      description: The log lines a deployment has written so far.
      operationId: readAgentDeploymentLogs
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/ReadAgentDeploymentLogsRequest'
      responses:
        "200":
          description: The logs.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/AgentDeploymentLogsResponse'
        "401":
          $ref: '#/components/responses/UnauthorizedErrorResponse'
YAML
)
schemas=$(cat <<'YAML'
    ReadAgentDeploymentLogsRequest:
      type: object
      required:
        - deploymentId
      properties:
        deploymentId:
          type: string
    AgentDeploymentLogsResponse:
      type: object
      properties:
        logs:
          type: array
          items:
            type: string
        success:
          type: boolean
        errors:
          type: array
          items:
            type: string
YAML
)
PATH_TEXT=$path SCHEMA_TEXT=$schemas awk '
  { print }
  $0 == "paths:" { print ENVIRON["PATH_TEXT"] }
  $0 == "  schemas:" { print ENVIRON["SCHEMA_TEXT"] }
' "$spec" >"$spec.new"
mv "$spec.new" "$spec"
