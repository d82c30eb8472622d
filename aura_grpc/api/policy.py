"""PolicyService and ApprovalService: issuance policy versions and approvals."""

from __future__ import annotations

from typing import Any

import grpc

from aura_grpc.api.calls import CallGuard
from aura_grpc.api.convert import struct, timestamp, to_dict
from aura_grpc.api.status import translate_errors
from aura_grpc.errors import InvalidInput
from aura_grpc.gen.aura.v2 import policy_pb2 as pb
from aura_grpc.gen.aura.v2 import policy_pb2_grpc
from aura_grpc.policy.approvals import ApprovalService, ApprovalView
from aura_grpc.policy.service import PolicyService, PolicyVersion

Context = grpc.aio.ServicerContext[Any, Any]
POLICY = "/aura.v2.PolicyService/"
APPROVALS = "/aura.v2.ApprovalService/"


def policy_message(policy: PolicyVersion) -> pb.Policy:
    return pb.Policy(
        version=policy.version,
        rego=policy.compiled.source,
        digest=policy.compiled.digest,
        test_cases=[
            pb.PolicyTestCase(
                name=case["name"], input=struct(case["input"]), expect=case["expect"]
            )
            for case in policy.test_cases
        ],
        on_posture_loss=policy.on_posture_loss,
        created_at=timestamp(policy.created_at),
    )


def approval_message(view: ApprovalView) -> pb.Approval:
    row = view.row
    return pb.Approval(
        approval_id=row.id,
        device_id=row.device_id,
        subject_cn=row.subject_cn,
        days=row.days,
        status=view.status,
        reasons=[str(r) for r in row.reasons],
        policy_version=row.policy_version,
        created_at=timestamp(row.created_at),
        expires_at=timestamp(row.expires_at),
        decided_at=timestamp(row.decided_at),
        key_sha256=row.key_sha256,
        serial=row.serial or "",
        cert_pem=view.cert_pem,
        chain_pem=view.chain_pem,
    )


class PolicyServicer(policy_pb2_grpc.PolicyServiceServicer):
    def __init__(self, guard: CallGuard, policies: PolicyService) -> None:
        self._guard = guard
        self._policies = policies

    @translate_errors
    async def PutPolicy(
        self, request: pb.PutPolicyRequest, context: Context
    ) -> pb.Policy:
        principal = await self._guard.principal(context, POLICY + "PutPolicy")
        if not request.rego.strip():
            raise InvalidInput("'rego' is required")
        cases = [
            {"name": c.name, "input": to_dict(c.input), "expect": c.expect}
            for c in request.test_cases
        ]
        policy = await self._policies.put(
            principal,
            self._guard.actor(principal, context),
            request.rego,
            cases,
            request.on_posture_loss,
        )
        return policy_message(policy)

    @translate_errors
    async def GetPolicy(
        self, request: pb.GetPolicyRequest, context: Context
    ) -> pb.Policy:
        principal = await self._guard.principal(context, POLICY + "GetPolicy")
        return policy_message(await self._policies.current(principal.org_id))

    @translate_errors
    async def TestPolicy(
        self, request: pb.TestPolicyRequest, context: Context
    ) -> pb.TestPolicyResponse:
        principal = await self._guard.principal(context, POLICY + "TestPolicy")
        decision = await self._policies.test(
            principal, request.rego, to_dict(request.input)
        )
        return pb.TestPolicyResponse(
            decision=decision.decision, reasons=decision.reasons, error=decision.error
        )


class ApprovalServicer(policy_pb2_grpc.ApprovalServiceServicer):
    def __init__(self, guard: CallGuard, approvals: ApprovalService) -> None:
        self._guard = guard
        self._approvals = approvals

    @translate_errors
    async def ListApprovals(
        self, request: pb.ListApprovalsRequest, context: Context
    ) -> pb.ListApprovalsResponse:
        principal = await self._guard.principal(context, APPROVALS + "ListApprovals")
        views = await self._approvals.list_pending(principal)
        return pb.ListApprovalsResponse(approvals=[approval_message(v) for v in views])

    @translate_errors
    async def GetApproval(
        self, request: pb.GetApprovalRequest, context: Context
    ) -> pb.Approval:
        principal = await self._guard.principal(context, APPROVALS + "GetApproval")
        view = await self._approvals.get(principal, request.approval_id)
        return approval_message(view)

    @translate_errors
    async def Approve(
        self, request: pb.DecideApprovalRequest, context: Context
    ) -> pb.Approval:
        principal = await self._guard.principal(context, APPROVALS + "Approve")
        actor = self._guard.actor(principal, context)
        view = await self._approvals.approve(principal, actor, request.approval_id)
        return approval_message(view)

    @translate_errors
    async def Deny(
        self, request: pb.DecideApprovalRequest, context: Context
    ) -> pb.Approval:
        principal = await self._guard.principal(context, APPROVALS + "Deny")
        actor = self._guard.actor(principal, context)
        view = await self._approvals.deny(principal, actor, request.approval_id)
        return approval_message(view)
