{{/* Chart name, shortened to Kubernetes' 63-character limit. */}}
{{- define "grump.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name: every object's name starts with it. */}}
{{- define "grump.fullname" -}}
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

{{- define "grump.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels shared by every object. */}}
{{- define "grump.labels" -}}
helm.sh/chart: {{ include "grump.chart" . }}
app.kubernetes.io/name: {{ include "grump.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: grump
{{- end }}

{{/* Selector of one component: (dict "root" $ "component" "api"). */}}
{{- define "grump.selectorLabels" -}}
app.kubernetes.io/name: {{ include "grump.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component's objects and pods: (dict "root" $ "component" "api"). */}}
{{- define "grump.componentLabels" -}}
{{ include "grump.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "grump.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "grump.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "grump.configMapName" -}}
{{- printf "%s-config" (include "grump.fullname" .) }}
{{- end }}

{{- define "grump.secretName" -}}
{{- default (include "grump.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* image reference from (dict "image" .Values.image "root" $). */}}
{{- define "grump.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/*
Pod annotations: checksums of the ConfigMap and Secret, so that changing a
setting rolls the pods; optionally prometheus.io scrape hints.
Call with (dict "root" $ "port" 9100).
*/}}
{{- define "grump.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if not .root.Values.secrets.existingSecret }}
checksum/secret: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- end }}
{{- if and .port .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Every grump container reads its settings from the ConfigMap and the Secret. */}}
{{- define "grump.envFrom" -}}
- configMapRef:
    name: {{ include "grump.configMapName" . }}
- secretRef:
    name: {{ include "grump.secretName" . }}
{{- end }}

{{/* Writable places on a read-only root: the data dir (disk cache) and /tmp. */}}
{{- define "grump.volumeMounts" -}}
- name: data
  mountPath: /var/lib/grump
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "grump.volumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end }}

{{/* Pod-level fields shared by every grump pod. */}}
{{- define "grump.podSpecCommon" -}}
serviceAccountName: {{ include "grump.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Scheduling fields from a component's values (nodeSelector, tolerations, affinity). */}}
{{- define "grump.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The Redis lists that hold one queue's messages: Celery keeps one list per
priority step on Redis (`queue`, `queue\x06\x163`, `queue\x06\x166`,
`queue\x06\x169`). Returns them as a JSON list. */}}
{{- define "grump.queueLists" -}}
{{- $lists := list . }}
{{- range $step := list "3" "6" "9" }}
{{- $lists = append $lists (printf "%s\x06\x16%s" $ $step) }}
{{- end }}
{{- toJson $lists }}
{{- end }}
