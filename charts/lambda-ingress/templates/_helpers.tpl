{{/* Names: the usual Helm conventions (release name, unless it already contains the chart's). */}}
{{- define "lambda-ingress.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lambda-ingress.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lambda-ingress.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lambda-ingress.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lambda-ingress.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Labels of every object but their component: the chart, version and commonLabels. */}}
{{- define "lambda-ingress.baseLabels" -}}
helm.sh/chart: {{ include "lambda-ingress.chart" . }}
app.kubernetes.io/name: {{ include "lambda-ingress.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "lambda-ingress.imageTag" . | quote }}
app.kubernetes.io/part-of: lambda-ingress
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "lambda-ingress.labels" -}}
{{ include "lambda-ingress.baseLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "lambda-ingress.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lambda-ingress.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: set the name of an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lambda-ingress.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "lambda-ingress.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "lambda-ingress.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
What `lambda-ingress controller` does in the namespaces it watches (the same
rules as deploy/rbac.yaml; a test compares them):
- read LambdaRoutes and Secrets (list+watch; get on Secrets for the targeted
  fetch of a Secret that a route starts referencing after it was dropped),
- write LambdaRoute status (the status subresource only, never spec),
- create Events about LambdaRoutes.
*/}}
{{- define "lambda-ingress.watchRules" -}}
- apiGroups: [lambda-ingress.io]
  resources: [lambdaroutes]
  verbs: [list, watch]
- apiGroups: [lambda-ingress.io]
  resources: [lambdaroutes/status]
  verbs: [update, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* The Lease the controller elects its status writer with: a fixed name in the release's namespace. */}}
{{- define "lambda-ingress.leaseName" -}}
lambda-ingress-leader
{{- end }}
