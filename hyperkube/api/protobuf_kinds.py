"""Protobuf field maps of the kinds kubectl's typed commands send as protobuf.

``kubectl create namespace|configmap|secret|deployment``, ``auth can-i`` and ``auth whoami``
POST ``application/vnd.kubernetes.protobuf`` bodies (CLIENTS.md, item 4). These maps give,
per message, Kubernetes' field numbers (from the published ``generated.proto`` files of
k8s.io/api and k8s.io/apimachinery) and JSON names, so :mod:`hyperkube.machinery.protobuf`
turns the bytes into the same dict the JSON body would have been.

Coverage is what those commands send plus the common neighbours (a pod template's
containers, ports, env, resources, volume mounts, tolerations); a field outside it makes the
decoder fail with its name, and the server answers 415 rather than drop it. ``keep_zero``
marks Go pointer fields, whose zero values (``replicas: 0``) are meaningful.
"""

from __future__ import annotations

import datetime
from typing import Any

from hyperkube.machinery.protobuf import BOOL, BYTES, INT, STRING, Field, MapOf, Message


def _message(name: str, fields: dict[int, Any], convert: Any = None) -> Message:
    """``fields``: number -> name (a string field), or (name, type[, flags]) where flags
    holds "repeated", "pointer" and/or "inline"."""
    built: dict[int, Field] = {}
    for number, spec in fields.items():
        if isinstance(spec, str):
            built[number] = Field(spec, STRING)
            continue
        name_, type_, *flags = spec
        built[number] = Field(name_, type_, repeated="repeated" in flags, keep_zero="pointer" in flags,
                              inline="inline" in flags)
    return Message(name, built, convert)


def _time(fields: dict[str, Any]) -> str | None:
    seconds, nanos = fields.get("seconds", 0), fields.get("nanos", 0)
    if not seconds and not nanos:
        return None  # the zero time: unset
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(fields: dict[str, Any]) -> int | str:
    return fields.get("strVal", "") if fields.get("type") == 1 else fields.get("intVal", 0)


R, P, INLINE = "repeated", "pointer", "inline"
TIME = _message("Time", {1: ("seconds", INT), 2: ("nanos", INT)}, _time)
INT_OR_STRING = _message("IntOrString", {1: ("type", INT), 2: ("intVal", INT), 3: ("strVal", STRING)},
                         _int_or_string)
QUANTITY = _message("Quantity", {1: "string"}, lambda fields: fields.get("string", "0"))
STRINGS = MapOf(STRING)

OWNER_REFERENCE = _message("OwnerReference", {
    5: "apiVersion", 1: "kind", 3: "name", 4: "uid", 6: ("controller", BOOL, P), 7: ("blockOwnerDeletion", BOOL, P)})
OBJECT_META = _message("ObjectMeta", {
    1: "name", 2: "generateName", 3: "namespace", 4: "selfLink", 5: "uid", 6: "resourceVersion",
    7: ("generation", INT), 8: ("creationTimestamp", TIME), 9: ("deletionTimestamp", TIME),
    10: ("deletionGracePeriodSeconds", INT, P), 11: ("labels", STRINGS), 12: ("annotations", STRINGS),
    13: ("ownerReferences", OWNER_REFERENCE, R), 14: ("finalizers", STRING, R)})
LABEL_SELECTOR_REQUIREMENT = _message("LabelSelectorRequirement", {1: "key", 2: "operator",
                                                                   3: ("values", STRING, R)})
LABEL_SELECTOR = _message("LabelSelector", {1: ("matchLabels", STRINGS),
                                            2: ("matchExpressions", LABEL_SELECTOR_REQUIREMENT, R)})

# ---- core/v1 ------------------------------------------------------------------------------------

NAMESPACE_CONDITION = _message("NamespaceCondition", {1: "type", 2: "status", 4: ("lastTransitionTime", TIME),
                                                      5: "reason", 6: "message"})
NAMESPACE = _message("Namespace", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("NamespaceSpec", {1: ("finalizers", STRING, R)})),
    3: ("status", _message("NamespaceStatus", {1: "phase", 2: ("conditions", NAMESPACE_CONDITION, R)}))})
CONFIG_MAP = _message("ConfigMap", {1: ("metadata", OBJECT_META), 2: ("data", STRINGS),
                                    3: ("binaryData", MapOf(BYTES)), 4: ("immutable", BOOL, P)})
SECRET = _message("Secret", {1: ("metadata", OBJECT_META), 2: ("data", MapOf(BYTES)), 3: "type",
                             4: ("stringData", STRINGS), 5: ("immutable", BOOL, P)})

CONTAINER_PORT = _message("ContainerPort", {1: "name", 2: ("hostPort", INT), 3: ("containerPort", INT),
                                            4: "protocol", 5: "hostIP"})
LOCAL_OBJECT_REFERENCE = _message("LocalObjectReference", {1: "name"})
ENV_VAR = _message("EnvVar", {1: "name", 2: "value"})
RESOURCES = _message("ResourceRequirements", {1: ("limits", MapOf(QUANTITY)), 2: ("requests", MapOf(QUANTITY))})
VOLUME_MOUNT = _message("VolumeMount", {1: "name", 2: ("readOnly", BOOL), 3: "mountPath", 4: "subPath",
                                        5: ("mountPropagation", STRING, P), 6: "subPathExpr",
                                        7: ("recursiveReadOnly", STRING, P)})
SELINUX_OPTIONS = _message("SELinuxOptions", {1: "user", 2: "role", 3: "type", 4: "level"})
SECCOMP_PROFILE = _message("SeccompProfile", {1: "type", 2: ("localhostProfile", STRING, P)})
APPARMOR_PROFILE = _message("AppArmorProfile", {1: "type", 2: ("localhostProfile", STRING, P)})
SECURITY_CONTEXT = _message("SecurityContext", {
    1: ("capabilities", _message("Capabilities", {1: ("add", STRING, R), 2: ("drop", STRING, R)})),
    2: ("privileged", BOOL, P), 3: ("seLinuxOptions", SELINUX_OPTIONS), 4: ("runAsUser", INT, P),
    8: ("runAsGroup", INT, P), 5: ("runAsNonRoot", BOOL, P), 6: ("readOnlyRootFilesystem", BOOL, P),
    7: ("allowPrivilegeEscalation", BOOL, P), 9: ("procMount", STRING, P), 11: ("seccompProfile", SECCOMP_PROFILE),
    12: ("appArmorProfile", APPARMOR_PROFILE)})
POD_SECURITY_CONTEXT = _message("PodSecurityContext", {
    1: ("seLinuxOptions", SELINUX_OPTIONS), 2: ("runAsUser", INT, P), 6: ("runAsGroup", INT, P),
    3: ("runAsNonRoot", BOOL, P), 4: ("supplementalGroups", INT, R), 12: ("supplementalGroupsPolicy", STRING, P),
    5: ("fsGroup", INT, P), 7: ("sysctls", _message("Sysctl", {1: "name", 2: "value"}), R),
    9: ("fsGroupChangePolicy", STRING, P), 10: ("seccompProfile", SECCOMP_PROFILE),
    11: ("appArmorProfile", APPARMOR_PROFILE), 13: ("seLinuxChangePolicy", STRING, P)})
CONTAINER = _message("Container", {
    1: "name", 2: "image", 3: ("command", STRING, R), 4: ("args", STRING, R), 5: "workingDir",
    6: ("ports", CONTAINER_PORT, R), 7: ("env", ENV_VAR, R), 8: ("resources", RESOURCES),
    9: ("volumeMounts", VOLUME_MOUNT, R), 13: "terminationMessagePath", 14: "imagePullPolicy",
    15: ("securityContext", SECURITY_CONTEXT),
    16: ("stdin", BOOL), 17: ("stdinOnce", BOOL), 18: ("tty", BOOL), 20: "terminationMessagePolicy",
    24: ("restartPolicy", STRING, P)})
TOLERATION = _message("Toleration", {1: "key", 2: "operator", 3: "value", 4: "effect",
                                     5: ("tolerationSeconds", INT, P)})
POD_SPEC = _message("PodSpec", {
    2: ("containers", CONTAINER, R), 20: ("initContainers", CONTAINER, R), 3: "restartPolicy",
    4: ("terminationGracePeriodSeconds", INT, P), 5: ("activeDeadlineSeconds", INT, P), 6: "dnsPolicy",
    7: ("nodeSelector", STRINGS), 8: "serviceAccountName", 9: "serviceAccount",
    21: ("automountServiceAccountToken", BOOL, P), 10: "nodeName", 11: ("hostNetwork", BOOL),
    12: ("hostPID", BOOL), 13: ("hostIPC", BOOL), 27: ("shareProcessNamespace", BOOL, P),
    14: ("securityContext", POD_SECURITY_CONTEXT),
    15: ("imagePullSecrets", LOCAL_OBJECT_REFERENCE, R), 16: "hostname", 17: "subdomain",
    19: "schedulerName", 22: ("tolerations", TOLERATION, R), 24: "priorityClassName", 25: ("priority", INT, P),
    29: ("runtimeClassName", STRING, P), 30: ("enableServiceLinks", BOOL, P), 31: ("preemptionPolicy", STRING, P),
    35: ("setHostnameAsFQDN", BOOL, P), 37: ("hostUsers", BOOL, P), 41: ("hostnameOverride", STRING, P)})
POD_TEMPLATE_SPEC = _message("PodTemplateSpec", {1: ("metadata", OBJECT_META), 2: ("spec", POD_SPEC)})

# ---- apps/v1 -------------------------------------------------------------------------------------

DEPLOYMENT_STRATEGY = _message("DeploymentStrategy", {1: "type", 2: ("rollingUpdate", _message(
    "RollingUpdateDeployment", {1: ("maxUnavailable", INT_OR_STRING), 2: ("maxSurge", INT_OR_STRING)}))})
DEPLOYMENT_SPEC = _message("DeploymentSpec", {
    1: ("replicas", INT, P), 2: ("selector", LABEL_SELECTOR), 3: ("template", POD_TEMPLATE_SPEC),
    4: ("strategy", DEPLOYMENT_STRATEGY), 5: ("minReadySeconds", INT), 6: ("revisionHistoryLimit", INT, P),
    7: ("paused", BOOL), 9: ("progressDeadlineSeconds", INT, P)})
DEPLOYMENT_STATUS = _message("DeploymentStatus", {
    1: ("observedGeneration", INT), 2: ("replicas", INT), 3: ("updatedReplicas", INT), 7: ("readyReplicas", INT),
    4: ("availableReplicas", INT), 5: ("unavailableReplicas", INT), 9: ("terminatingReplicas", INT, P),
    8: ("collisionCount", INT, P)})
DEPLOYMENT = _message("Deployment", {1: ("metadata", OBJECT_META), 2: ("spec", DEPLOYMENT_SPEC),
                                     3: ("status", DEPLOYMENT_STATUS)})

# ---- authorization.k8s.io/v1, authentication.k8s.io/v1 -------------------------------------------

_SELECTOR_ATTRIBUTES = {1: "rawSelector", 2: ("requirements", LABEL_SELECTOR_REQUIREMENT, R)}
RESOURCE_ATTRIBUTES = _message("ResourceAttributes", {
    1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name",
    8: ("fieldSelector", _message("FieldSelectorAttributes", _SELECTOR_ATTRIBUTES)),
    9: ("labelSelector", _message("LabelSelectorAttributes", _SELECTOR_ATTRIBUTES))})
ACCESS_REVIEW_STATUS = _message("SubjectAccessReviewStatus", {1: ("allowed", BOOL), 4: ("denied", BOOL),
                                                              2: "reason", 3: "evaluationError"})
SELF_SUBJECT_ACCESS_REVIEW = _message("SelfSubjectAccessReview", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("SelfSubjectAccessReviewSpec", {
        1: ("resourceAttributes", RESOURCE_ATTRIBUTES),
        2: ("nonResourceAttributes", _message("NonResourceAttributes", {1: "path", 2: "verb"}))})),
    3: ("status", ACCESS_REVIEW_STATUS)})
SELF_SUBJECT_RULES_REVIEW = _message("SelfSubjectRulesReview", {
    1: ("metadata", OBJECT_META), 2: ("spec", _message("SelfSubjectRulesReviewSpec", {1: "namespace"})),
    3: ("status", _message("SubjectRulesReviewStatus", {3: ("incomplete", BOOL), 4: "evaluationError"}))})
USER_INFO = _message("UserInfo", {1: "username", 2: "uid", 3: ("groups", STRING, R), 4: ("extra", MapOf(
    _message("ExtraValue", {1: ("items", STRING, R)}, lambda fields: fields.get("items", []))))})
SELF_SUBJECT_REVIEW = _message("SelfSubjectReview", {
    1: ("metadata", OBJECT_META),
    2: ("status", _message("SelfSubjectReviewStatus", {1: ("userInfo", USER_INFO)}))})
TOKEN_REQUEST = _message("TokenRequest", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("TokenRequestSpec", {
        1: ("audiences", STRING, R), 4: ("expirationSeconds", INT, P),
        3: ("boundObjectRef", _message("BoundObjectReference", {1: "kind", 2: "apiVersion", 3: "name", 4: "uid"}))})),
    3: ("status", _message("TokenRequestStatus", {1: "token", 2: ("expirationTimestamp", TIME)}))})
TOKEN_REVIEW = _message("TokenReview", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("TokenReviewSpec", {1: "token", 2: ("audiences", STRING, R)})),
    3: ("status", _message("TokenReviewStatus", {1: ("authenticated", BOOL), 2: ("user", USER_INFO), 3: "error",
                                                 4: ("audiences", STRING, R)}))})

# ---- policy/v1 -------------------------------------------------------------------------------------

DELETE_OPTIONS = _message("DeleteOptions", {
    1: ("gracePeriodSeconds", INT, P),
    2: ("preconditions", _message("Preconditions", {1: ("uid", STRING, P), 2: ("resourceVersion", STRING, P)})),
    3: ("orphanDependents", BOOL, P), 4: ("propagationPolicy", STRING, P), 5: ("dryRun", STRING, R),
    6: ("ignoreStoreReadErrorWithClusterBreakingPotential", BOOL, P)})
EVICTION = _message("Eviction", {1: ("metadata", OBJECT_META), 2: ("deleteOptions", DELETE_OPTIONS)})

# ---- what the other ``kubectl create`` subcommands send --------------------------------------------

OBJECT_REFERENCE = _message("ObjectReference", {1: "kind", 2: "namespace", 3: "name", 4: "uid", 5: "apiVersion",
                                                6: "resourceVersion", 7: "fieldPath"})
SERVICE_ACCOUNT = _message("ServiceAccount", {
    1: ("metadata", OBJECT_META), 2: ("secrets", OBJECT_REFERENCE, R),
    3: ("imagePullSecrets", LOCAL_OBJECT_REFERENCE, R), 4: ("automountServiceAccountToken", BOOL, P)})
LOAD_BALANCER_STATUS = _message("LoadBalancerStatus", {1: ("ingress", _message("LoadBalancerIngress", {
    1: "ip", 2: "hostname"}), R)})
SERVICE_PORT = _message("ServicePort", {1: "name", 2: "protocol", 6: ("appProtocol", STRING, P), 3: ("port", INT),
                                        4: ("targetPort", INT_OR_STRING), 5: ("nodePort", INT)})
SERVICE = _message("Service", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("ServiceSpec", {
        1: ("ports", SERVICE_PORT, R), 2: ("selector", STRINGS), 3: "clusterIP", 18: ("clusterIPs", STRING, R),
        4: "type", 5: ("externalIPs", STRING, R), 7: "sessionAffinity", 8: "loadBalancerIP",
        9: ("loadBalancerSourceRanges", STRING, R), 10: "externalName", 11: "externalTrafficPolicy",
        12: ("healthCheckNodePort", INT), 13: ("publishNotReadyAddresses", BOOL), 19: ("ipFamilies", STRING, R),
        17: ("ipFamilyPolicy", STRING, P), 20: ("allocateLoadBalancerNodePorts", BOOL, P),
        21: ("loadBalancerClass", STRING, P), 22: ("internalTrafficPolicy", STRING, P),
        23: ("trafficDistribution", STRING, P)})),
    3: ("status", _message("ServiceStatus", {1: ("loadBalancer", LOAD_BALANCER_STATUS)}))})
RESOURCE_QUOTA = _message("ResourceQuota", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("ResourceQuotaSpec", {1: ("hard", MapOf(QUANTITY)), 2: ("scopes", STRING, R)})),
    3: ("status", _message("ResourceQuotaStatus", {1: ("hard", MapOf(QUANTITY)), 2: ("used", MapOf(QUANTITY))}))})
JOB_SPEC = _message("JobSpec", {
    1: ("parallelism", INT, P), 2: ("completions", INT, P), 3: ("activeDeadlineSeconds", INT, P),
    7: ("backoffLimit", INT, P), 12: ("backoffLimitPerIndex", INT, P), 13: ("maxFailedIndexes", INT, P),
    4: ("selector", LABEL_SELECTOR), 5: ("manualSelector", BOOL, P), 6: ("template", POD_TEMPLATE_SPEC),
    8: ("ttlSecondsAfterFinished", INT, P), 9: ("completionMode", STRING, P), 10: ("suspend", BOOL, P),
    14: ("podReplacementPolicy", STRING, P), 15: ("managedBy", STRING, P)})
JOB = _message("Job", {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC), 3: ("status", _message("JobStatus", {
    2: ("startTime", TIME), 3: ("completionTime", TIME), 4: ("active", INT), 5: ("succeeded", INT),
    6: ("failed", INT), 7: "completedIndexes", 9: ("ready", INT, P), 10: ("failedIndexes", STRING, P),
    11: ("terminating", INT, P)}))})
CRON_JOB = _message("CronJob", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("CronJobSpec", {
        1: "schedule", 8: ("timeZone", STRING, P), 2: ("startingDeadlineSeconds", INT, P), 3: "concurrencyPolicy",
        4: ("suspend", BOOL, P),
        5: ("jobTemplate", _message("JobTemplateSpec", {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC)})),
        6: ("successfulJobsHistoryLimit", INT, P), 7: ("failedJobsHistoryLimit", INT, P)})),
    3: ("status", _message("CronJobStatus", {1: ("active", OBJECT_REFERENCE, R)}))})
POLICY_RULE = _message("PolicyRule", {1: ("verbs", STRING, R), 2: ("apiGroups", STRING, R),
                                      3: ("resources", STRING, R), 4: ("resourceNames", STRING, R),
                                      5: ("nonResourceURLs", STRING, R)})
ROLE = _message("Role", {1: ("metadata", OBJECT_META), 2: ("rules", POLICY_RULE, R)})
CLUSTER_ROLE = _message("ClusterRole", {
    1: ("metadata", OBJECT_META), 2: ("rules", POLICY_RULE, R),
    3: ("aggregationRule", _message("AggregationRule", {1: ("clusterRoleSelectors", LABEL_SELECTOR, R)}))})
_BINDING = {1: ("metadata", OBJECT_META),
            2: ("subjects", _message("Subject", {1: "kind", 2: "apiGroup", 3: "name", 4: "namespace"}), R),
            3: ("roleRef", _message("RoleRef", {1: "apiGroup", 2: "kind", 3: "name"}))}
ROLE_BINDING = _message("RoleBinding", _BINDING)
CLUSTER_ROLE_BINDING = _message("ClusterRoleBinding", _BINDING)
POD_DISRUPTION_BUDGET = _message("PodDisruptionBudget", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("PodDisruptionBudgetSpec", {
        1: ("minAvailable", INT_OR_STRING), 2: ("selector", LABEL_SELECTOR), 3: ("maxUnavailable", INT_OR_STRING),
        4: ("unhealthyPodEvictionPolicy", STRING, P)})),
    3: ("status", _message("PodDisruptionBudgetStatus", {
        1: ("observedGeneration", INT), 2: ("disruptedPods", MapOf(TIME)), 3: ("disruptionsAllowed", INT),
        4: ("currentHealthy", INT), 5: ("desiredHealthy", INT), 6: ("expectedPods", INT)}))})
PRIORITY_CLASS = _message("PriorityClass", {1: ("metadata", OBJECT_META), 2: ("value", INT),
                                            3: ("globalDefault", BOOL), 4: "description",
                                            5: ("preemptionPolicy", STRING, P)})
INGRESS_BACKEND = _message("IngressBackend", {
    4: ("service", _message("IngressServiceBackend", {
        1: "name", 2: ("port", _message("ServiceBackendPort", {1: "name", 2: ("number", INT)}))})),
    3: ("resource", _message("TypedLocalObjectReference", {1: ("apiGroup", STRING, P), 2: "kind", 3: "name"}))})
HTTP_INGRESS_PATH = _message("HTTPIngressPath", {1: "path", 3: ("pathType", STRING, P),
                                                 2: ("backend", INGRESS_BACKEND)})
INGRESS_RULE_VALUE = _message("IngressRuleValue", {
    1: ("http", _message("HTTPIngressRuleValue", {1: ("paths", HTTP_INGRESS_PATH, R)}))})
INGRESS = _message("Ingress", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("IngressSpec", {
        4: ("ingressClassName", STRING, P), 1: ("defaultBackend", INGRESS_BACKEND),
        2: ("tls", _message("IngressTLS", {1: ("hosts", STRING, R), 2: "secretName"}), R),
        3: ("rules", _message("IngressRule", {1: "host", 2: ("ingressRuleValue", INGRESS_RULE_VALUE, INLINE)}), R)})),
    3: ("status", _message("IngressStatus", {1: ("loadBalancer", _message("IngressLoadBalancerStatus", {
        1: ("ingress", _message("IngressLoadBalancerIngress", {1: "ip", 2: "hostname"}), R)}))}))})

SCALE_TARGET = _message("CrossVersionObjectReference", {1: "kind", 2: "name", 3: "apiVersion"})
METRIC_TARGET = _message("MetricTarget", {1: "type", 2: ("value", QUANTITY), 3: ("averageValue", QUANTITY),
                                          4: ("averageUtilization", INT, P)})
HPA_V2 = _message("HorizontalPodAutoscaler", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("HorizontalPodAutoscalerSpec", {
        1: ("scaleTargetRef", SCALE_TARGET), 2: ("minReplicas", INT, P), 3: ("maxReplicas", INT),
        4: ("metrics", _message("MetricSpec", {1: "type", 4: ("resource", _message("ResourceMetricSource", {
            1: "name", 2: ("target", METRIC_TARGET)}))}), R)})),
    3: ("status", _message("HorizontalPodAutoscalerStatus", {
        1: ("observedGeneration", INT, P), 2: ("lastScaleTime", TIME), 3: ("currentReplicas", INT),
        4: ("desiredReplicas", INT)}))})
HPA_V1 = _message("HorizontalPodAutoscaler", {
    1: ("metadata", OBJECT_META),
    2: ("spec", _message("HorizontalPodAutoscalerSpec", {
        1: ("scaleTargetRef", SCALE_TARGET), 2: ("minReplicas", INT, P), 3: ("maxReplicas", INT),
        4: ("targetCPUUtilizationPercentage", INT, P)})),
    3: ("status", _message("HorizontalPodAutoscalerStatus", {
        1: ("observedGeneration", INT, P), 2: ("lastScaleTime", TIME), 3: ("currentReplicas", INT),
        4: ("desiredReplicas", INT), 5: ("currentCPUUtilizationPercentage", INT, P)}))})

#: (apiVersion, kind) -> message of the object
KINDS: dict[tuple[str, str], Message] = {
    ("v1", "Namespace"): NAMESPACE,
    ("v1", "ConfigMap"): CONFIG_MAP,
    ("v1", "Secret"): SECRET,
    ("apps/v1", "Deployment"): DEPLOYMENT,
    ("policy/v1", "Eviction"): EVICTION,
    ("v1", "ServiceAccount"): SERVICE_ACCOUNT,
    ("v1", "Service"): SERVICE,
    ("v1", "ResourceQuota"): RESOURCE_QUOTA,
    ("batch/v1", "Job"): JOB,
    ("batch/v1", "CronJob"): CRON_JOB,
    ("rbac.authorization.k8s.io/v1", "Role"): ROLE,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): CLUSTER_ROLE,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ROLE_BINDING,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): CLUSTER_ROLE_BINDING,
    ("policy/v1", "PodDisruptionBudget"): POD_DISRUPTION_BUDGET,
    ("scheduling.k8s.io/v1", "PriorityClass"): PRIORITY_CLASS,
    ("networking.k8s.io/v1", "Ingress"): INGRESS,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): HPA_V2,
    ("autoscaling/v1", "HorizontalPodAutoscaler"): HPA_V1,
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): SELF_SUBJECT_ACCESS_REVIEW,
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): SELF_SUBJECT_RULES_REVIEW,
    ("authentication.k8s.io/v1", "SelfSubjectReview"): SELF_SUBJECT_REVIEW,
    ("authentication.k8s.io/v1beta1", "SelfSubjectReview"): SELF_SUBJECT_REVIEW,
    ("authentication.k8s.io/v1", "TokenRequest"): TOKEN_REQUEST,
    ("authentication.k8s.io/v1", "TokenReview"): TOKEN_REVIEW,
}
